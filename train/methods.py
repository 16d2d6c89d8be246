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
    reproduces = "MeZO's trainer, bit for bit (gaussian, q = 1, two-sided; tested); ZO-Bench's `zo_sgd` (torch SGD)"
    differences = "none in the update"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR}


@register
class ZOSGDSign(ZOOptimizer):
    """projected (the default): theta -= lr ((1/q) sum_i sign(g_i) u_i + wd theta), the sign of each projected
    gradient (ZO-Bench Appendix A, and what its code runs); element: theta -= lr (sign(g_hat) + wd theta), the
    element-wise sign of ZO-Bench section 3's Eq. 2."""
    name = "zo-sgd-sign"
    title = "ZO-SGD-Sign"
    paper = "Liu et al., 2019; ZO-Bench section 3 (element-wise) and Appendix A (projected)"
    reproduces = ("ZO-Bench's `zo_sign_opt` direction sign(g) u (q > 1: the mean of sign(g_i) u_i, as its "
                  "`zo_step_v1`)")
    differences = ("ZO-Bench's sign sweeps leave `--optimizer` unset, so the Hugging Face Trainer's AdamW (weight "
                   "decay 0) applies sign(g) u as a gradient; pezo applies it as SGD, the rule of its Appendix A. "
                   "`--sign element` (section 3, Eq. 2) is not in ZO-Bench's code")
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "sign": Argument("projected", "sign of what: each projected gradient, or the estimate element-wise",
                                  choices=("projected", "element"))}

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
    reproduces = "ZO-Bench's `zo_sgd` with momentum 0.9 (torch SGD, dampening 0)"
    differences = "none in the update"
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
    lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + adam_eps). amsgrad: torch's, the running maximum of every v so far
    (ZO-AdaMM's v_hat_t = max(v_hat_{t-1}, v_t)) in the denominator; ZO-Bench's Appendix A writes max(v_t, v_{t-1}),
    the larger of the last two only, and its code ran without amsgrad (the default here)."""
    name = "zo-adam"
    title = "ZO-Adam"
    paper = "Chen et al., 2019 (ZO-AdaMM); ZO-Bench Appendix A"
    reproduces = "ZO-Bench's `zo_adam` (torch Adam, betas 0.9 and 0.999, eps 1e-8, weight decay 0)"
    differences = ("`--amsgrad true` is torch's running maximum of v (ZO-AdaMM's), not Appendix A's "
                   "max(v_t, v_t-1); ZO-Bench's code has no amsgrad")
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
    reproduces = "ZO-Bench's `zo_conserv`: its candidates, order of evaluation and tie rule"
    differences = ("ZO-Bench's cons sweeps leave `--optimizer` unset, so each of its moves is a step of the "
                   "Hugging Face Trainer's AdamW on g_hat (2 or 3 Adam steps per iteration); pezo moves by "
                   "exactly -+ lr g_hat, as its Appendix A states. Its one-sided mode is not offered")
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


