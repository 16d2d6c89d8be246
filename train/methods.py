"""ZO-SGD and its relatives from ZO-Bench (Zhang et al., 2024, section 3 and Appendix A), plus block-wise ZO and
Sparse-MeZO: each differs from ZO-SGD only in its estimate or in its per-tensor update rule.

In all of them g_hat = sum_i c_i u_i is the ZO-SGD estimate (zo.ZOOptimizer.estimate) and wd the MeZO weight
decay (0 for biases and layer norms).
"""
import math

import torch
from torch.optim.adam import adam
from torch.optim.sgd import sgd

from .zo import Argument, ZOOptimizer, register

QUERIES = Argument(1, "queries (perturbations) averaged per step", minimum=1, maximum=1024)
ESTIMATOR = Argument("two-sided", "finite difference", choices=("two-sided", "one-sided"))


@register
class ZOSGD(ZOOptimizer):
    """theta -= lr (g_hat + wd theta). With q = 1, two-sided and a gaussian source this is MeZO, bit for bit."""
    name = "zo-sgd"
    title = "ZO-SGD (MeZO)"
    paper = "Malladi et al., 2023 (MeZO), Algorithm 1; ZO-Bench Appendix A"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR}


@register
class ZOSGDSign(ZOOptimizer):
    """element: theta -= lr (sign(g_hat) + wd theta), the element-wise sign (ZO-Bench section 3, the default);
    projected: theta -= lr ((1/q) sum_i sign(g_i) u_i + wd theta), the sign of each projected gradient
    (ZO-Bench Appendix A)."""
    name = "zo-sgd-sign"
    title = "ZO-SGD-Sign"
    paper = "Liu et al., 2019; ZO-Bench section 3 (element-wise) and Appendix A (projected)"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "sign": Argument("element", "sign of what", choices=("element", "projected"))}

    def update(self, estimate, closure):
        queries = estimate.queries
        if self.args["sign"] == "projected":
            share = 1.0 / len(queries)
            queries = [(position, share if c > 0 else -share if c < 0 else 0.0) for position, c in queries]
        for (name, param, group), grad in self.gradients(queries):
            if self.args["sign"] == "element":
                grad.sign_()
            self.apply(name, param, group, grad)


@register
class ZOSGDMomentum(ZOOptimizer):
    """m = beta m + (g_hat + wd theta); theta -= lr m (ZO-Bench Appendix A; torch.optim.SGD with dampening 0, whose
    first step sets m to the gradient)."""
    name = "zo-sgd-mmt"
    title = "ZO-SGD-MMT"
    paper = "Huang et al., 2022; ZO-Bench Appendix A"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "momentum": Argument(0.9, "momentum coefficient beta", minimum=0.0, maximum=1.0)}

    def apply(self, name, param, group, grad):
        state = self.state[param]
        buffers = [state.get("momentum_buffer")]
        sgd([param], [grad], buffers, foreach=False, weight_decay=self.decay(name, group),
            momentum=self.args["momentum"], lr=group["lr"], dampening=0.0, nesterov=False, maximize=False)
        state["momentum_buffer"] = buffers[0]

    @classmethod
    def demands(cls, args):
        return {**super().demands(args), "buffers": 1}


@register
class ZOAdam(ZOOptimizer):
    """torch.optim.Adam's rule on g_hat + wd theta: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, theta -=
    lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + adam_eps). amsgrad uses max(v) in the denominator, as ZO-AdaMM's
    V_t = max(v_t, v_{t-1}) (ZO-Bench Appendix A)."""
    name = "zo-adam"
    title = "ZO-Adam"
    paper = "Chen et al., 2019 (ZO-AdaMM); ZO-Bench Appendix A"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "beta1": Argument(0.9, "first-moment decay", minimum=0.0, maximum=0.999999),
                 "beta2": Argument(0.999, "second-moment decay", minimum=0.0, maximum=0.999999),
                 "adam_eps": Argument(1e-8, "denominator term", minimum=0.0),
                 "amsgrad": Argument(False, "keep the running maximum of v", choices=(False, True))}

    def apply(self, name, param, group, grad):
        state = self.state[param]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
            if self.args["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(param)
        maximum = [state["max_exp_avg_sq"]] if self.args["amsgrad"] else []
        adam([param], [grad], [state["exp_avg"]], [state["exp_avg_sq"]], maximum, [state["step"]], foreach=False,
             amsgrad=self.args["amsgrad"], beta1=self.args["beta1"], beta2=self.args["beta2"], lr=group["lr"],
             weight_decay=self.decay(name, group), eps=self.args["adam_eps"], maximize=False)

    @classmethod
    def demands(cls, args):
        return {**super().demands(args), "buffers": 3 if args.get("amsgrad") else 2}


@register
class ZOSGDCons(ZOOptimizer):
    """Conservative ZO-SGD: after the two-point estimate, evaluate L(theta), L(theta - lr g_hat) and
    L(theta + lr g_hat) and keep the point with the smallest loss, 5 forward passes (ZO-Bench Appendix A). Ties
    follow ZO-Bench's code: with L_down = L(theta - lr g_hat) and L_up = L(theta + lr g_hat), keep theta if
    L_down > L(theta) and L(theta) < L_up, else down if L_down <= L(theta) and L_down < L_up, else up. The moves are
    in place: theta - lr g_hat, then + 2 lr g_hat, then back as needed."""
    name = "zo-sgd-cons"
    title = "ZO-SGD-Cons"
    paper = "Kim et al., 2021; ZO-Bench Appendix A"
    arguments = {}
    evaluates_loss = True

    def __init__(self, params, source, lr=1e-6, eps=1e-3, weight_decay=0.0, **arguments):
        if weight_decay:
            raise ValueError(f"method zo-sgd-cons takes weight_decay 0 (got {weight_decay}): its candidate points "
                             f"are theta and theta -/+ lr g_hat")
        super().__init__(params, source, lr=lr, eps=eps, **arguments)

    def update(self, estimate, closure):
        """A non-finite candidate loss counts as +inf, so such a point is never kept."""
        self.move(estimate.queries, -1.0)
        lower = closure().item()
        self.move(estimate.queries, 2.0)
        upper = closure().item()
        loss = estimate.losses["loss"]
        down, up = (value if math.isfinite(value) else math.inf for value in (lower, upper))
        best = (0 if loss < up else 2) if down > loss else (1 if down < up else 2)
        estimate.losses.update(loss_down=lower, loss_up=upper, kept=("theta", "down", "up")[best])
        if best < 2:
            self.move(estimate.queries, -1.0 if best == 0 else -2.0)

    def move(self, queries, scale):
        """theta += scale lr g_hat."""
        for (name, param, group), grad in self.gradients(queries):
            param.add_(grad.mul_(scale * group["lr"]))

    @classmethod
    def demands(cls, args):
        return {**super().demands(args), "forwards": 5, "replays": "5 or 6"}


def layer_blocks(named):
    """Indices of consecutive parameters grouped by the path up to their first numeric component
    ('model.layers.3'); a parameter outside numbered layers (embeddings, final norm, head) is a block of its own."""
    blocks, last = [], None
    for index, (name, _, _) in enumerate(named):
        parts = name.split(".")
        numbered = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        key = ".".join(parts[:numbered + 1]) if numbered is not None else name
        if key == last:
            blocks[-1].append(index)
        else:
            blocks.append([index])
        last = key
    return blocks


@register
class BlockZO(ZOOptimizer):
    """Block-wise ZO-SGD: step t perturbs and updates only block t mod B (a transformer layer, or one tensor), so a
    step draws the block's values, not the model's; the rule is ZO-SGD's on that block."""
    name = "zo-sgd-block"
    title = "ZO-SGD-Block"
    paper = "ZO-Bench section 6 (block-wise ZO)"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "blocks": Argument("layer", "what one block is", choices=("layer", "tensor"))}

    def __init__(self, params, source, **options):
        super().__init__(params, source, **options)
        tensors = [[index] for index in range(len(self.named))]
        self.blocks = layer_blocks(self.named) if self.args["blocks"] == "layer" else tensors

    def active(self):
        return [self.named[index] for index in self.blocks[self.steps % len(self.blocks)]]

    @classmethod
    def demands(cls, args):
        queries = args.get("queries", 1)
        return {**super().demands(args), "random": f"{queries} d / B (B blocks)"}


@register
class SparseMeZO(ZOOptimizer):
    """Sparse-MeZO: perturb and update only the weights with |theta| <= the per-tensor quantile `density` of |theta|
    (the smallest `density` share), recomputed from the weights at the start of every step; the mask lives for one
    step only. The rule is ZO-SGD's on the masked u (Liu et al., 2024)."""
    name = "sparse-mezo"
    title = "Sparse-MeZO"
    paper = "Liu et al., 2024 (Sparse-MeZO)"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "density": Argument(0.25, "share of each tensor's weights perturbed (those of smallest magnitude)",
                                     minimum=1e-6, maximum=1.0)}

    def begin(self):
        self.masks = {param: magnitude_mask(param, self.args["density"]) for _, param, _ in self.active()}

    def end(self):
        self.masks = {}

    def direction(self, param, u):
        return u.mul_(self.masks[param])

    @classmethod
    def demands(cls, args):
        mask = "0 (a mask per weight during a step: 1 bit in hardware, 1 byte in torch)"
        return {**super().demands(args), "buffers": mask}


def magnitude_mask(param, density):
    """|theta| <= the k-th smallest |theta|, k = ceil(density numel): at least the `density` share of the tensor."""
    magnitude = param.detach().abs()
    k = min(magnitude.numel(), math.ceil(density * magnitude.numel()))
    return magnitude <= magnitude.view(-1).kthvalue(k).values
