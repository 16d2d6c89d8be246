"""HiZOO (Zhao et al., 2024, "Second-order fine-tuning without pain for LLMs: a Hessian informed zeroth-order
optimizer"): a diagonal Hessian estimate Sigma per weight (init 1) shapes the perturbation and the update.

One step, with u from the source and h = |L+ + L- - 2 L0| / (2 eps^2):

    L0 = L(theta);  L+- = L(theta +- eps Sigma^-1/2 u)               (three forward passes)
    g = (L+ - L-) / (2 eps)
    Sigma <- (1 - alpha) Sigma + alpha h Sigma u^2
    theta -= lr (g Sigma^-1/2 u + wd theta)                           (with the new Sigma)

Sigma is the diagonal Hessian (the paper's Sigma^-1; the official code's Hessian_matrix), with no floor or clipping,
as in the official code. alpha = 0 keeps Sigma = 1 and reduces HiZOO to MeZO; the default 1e-8 is the official
README's (1e-6 for RoBERTa-size models). Sigma is a parameter-sized buffer, checkpointed.
"""
import torch

from .zo import Argument, ZOOptimizer, register


@register
class HiZOO(ZOOptimizer):
    name = "hizoo"
    title = "HiZOO"
    paper = "Zhao et al., 2024 (HiZOO), Algorithm 1"
    reproduces = "the official HiZOO trainer's step (its Hessian_matrix update, no floor or clipping)"
    differences = "none in the update"
    arguments = {"alpha": Argument(1e-8, "Hessian smoothing: Sigma's share of each new estimate", minimum=0.0,
                                   maximum=0.5)}

    def hessian(self, param):
        state = self.state[param]
        if "hessian" not in state:
            state["hessian"] = torch.ones_like(param)
        return state["hessian"]

    def direction(self, param, u):
        return u.mul_(self.hessian(param).rsqrt())

    evaluates_loss = True

    def estimate(self, closure):
        estimate = super().estimate(closure)
        losses = estimate.losses
        losses["curvature"] = abs(losses["loss_plus"] + losses["loss_minus"] - 2 * losses["loss"]) / (2 * self.eps ** 2)
        return estimate

    def update(self, estimate, closure):
        (position, grad), = estimate.queries
        alpha, curvature = self.args["alpha"], estimate.losses["curvature"]
        for (name, param, group), u in zip(self.named, self.source.tensors(self.params, position)):
            hessian = self.hessian(param)
            fresh = hessian * u.square() * (alpha * curvature)
            hessian.mul_(1 - alpha).add_(fresh)
            self.apply(name, param, group, u.mul_(hessian.rsqrt()).mul_(grad))

    @classmethod
    def demands(cls, args):
        return {"forwards": 3, "buffers": 1, "random": "1 d", "replays": 4, "inference_only": True}
