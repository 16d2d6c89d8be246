"""DiZO (Tan et al., 2025, Algorithm 1 and section 3.3): ZO-SGD plus, every `interval` steps, a layer-wise
divergence-driven projection of the attention Query and Value weights (Appendix C.1) towards or away from the
pre-trained weights theta_0, learned by ZO on the same mini-batch.

A projection round, for the projected tensors l = 1..L with distance t_l = ||theta_l - theta_0,l||:

    rho = 1                                                   (Re-init: gamma_l = t_l, so gamma_l / t_l = 1)
    repeat `iterations` times, with z in R^L from the perturbation source:
        L+- = L(theta_0 + (rho +- gamma_eps z) (theta - theta_0))        (weights swapped in, then restored exactly)
        c = (L+ - L-) / (2 gamma_eps)
        rho = clip(rho - gamma_lr c z, 1 - tau, 1 + tau)                   (Clipping)
    theta_l = theta_0,l + rho_l (theta_l - theta_0,l)

rho_l is the paper's gamma_l / ||theta_l - theta_0,l||. Learning and perturbing that ratio makes the step
scale-free; it equals the official code's gamma step gamma_lr t_l c z (the paper's Appendix F omits the factor
t_l). The official code perturbs gamma by gamma_eps z clipped to +-tau t_l instead, projects Key and Value, and
draws a fresh mini-batch per iteration; the paper (followed here) projects Query and Value on the same batch.
theta_0 of the projected tensors is the extra state (a sixth of a transformer's weights), checkpointed. With LoRA
the default targets name the adapters' A and B factors of the query and value projections, which are then
projected one by one (B's theta_0 is zero), not the product W + BA the paper projects.
"""
import math

import torch

from .methods import ESTIMATOR, QUERIES
from .zo import Argument, ZOOptimizer, register


@register
class DiZO(ZOOptimizer):
    name = "dizo"
    title = "DiZO"
    paper = "Tan et al., 2025 (DiZO), Algorithm 1, section 3.3, Appendix C, Table 7"
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "interval": Argument(100, "steps between projection rounds (Table 7: 50..400)", minimum=1),
                 "iterations": Argument(10, "ZO iterations per projection round", minimum=1, maximum=1000),
                 "tau": Argument(0.2, "clip range of the projection ratio (Table 7: 0.1..0.3)", minimum=0.0,
                                 maximum=1.0),
                 "gamma_eps": Argument(0.1, "perturbation of the ratio (Table 7: 0.05..0.1)", minimum=1e-12),
                 "gamma_lr": Argument(2.0, "learning rate of the ratio", minimum=0.0),
                 "targets": Argument("q_proj,v_proj,query,value", "name components of the projected tensors")}

    def __init__(self, params, source, **options):
        super().__init__(params, source, **options)
        targets = set(self.args["targets"].split(","))
        self.projected = [param for name, param, _ in self.named if targets & set(name.split("."))]
        if not self.projected:
            raise ValueError(f"method dizo found no trainable tensor named by targets={self.args['targets']!r}: "
                             f"allowed names with one of those components (e.g. model.layers.0.self_attn.q_proj)")
        for param in self.projected:
            self.state[param]["anchor"] = param.detach().clone()

    def update(self, estimate, closure):
        super().update(estimate, closure)
        if (self.steps + 1) % self.args["interval"] == 0:
            estimate.losses["projection"] = self.project(closure)

    def project(self, closure):
        """One projection round; returns the ratios applied, or None when a loss was not finite (the round is
        then dropped and the weights stay as they are)."""
        ratio = torch.ones(len(self.projected), dtype=torch.float64)
        gammas = torch.empty(len(self.projected))           # the shape of z: one value per projected tensor
        eps, tau = self.args["gamma_eps"], self.args["tau"]
        for _ in range(self.args["iterations"]):
            z = next(self.source.tensors([gammas])).to(torch.float64)
            self.source.next(len(self.projected))
            plus, minus = (self.projected_loss(closure, ratio + sign * eps * z) for sign in (1, -1))
            if not (math.isfinite(plus) and math.isfinite(minus)):
                return None
            grad = (plus - minus) / (2 * eps)
            ratio = (ratio - self.args["gamma_lr"] * grad * z).clamp(1 - tau, 1 + tau)
        for param, rho in zip(self.projected, ratio.tolist()):
            anchor = self.state[param]["anchor"]
            param.sub_(anchor).mul_(rho).add_(anchor)
        return ratio.tolist()

    def projected_loss(self, closure, ratio):
        """L(theta_0 + ratio (theta - theta_0)) over the projected tensors, with theta restored bit for bit."""
        originals = [param.data for param in self.projected]
        for param, rho in zip(self.projected, ratio.tolist()):
            anchor = self.state[param]["anchor"]
            param.data = (param.data - anchor).mul_(rho).add_(anchor)
        try:
            return closure().item()
        finally:
            for param, original in zip(self.projected, originals):
                param.data = original

    @classmethod
    def demands(cls, args):
        base, rounds = super().demands(args), f"{2 * args['iterations']}/{args['interval']}"
        return {**base, "forwards": f"{base['forwards']} + {rounds}", "buffers": "theta_0 of Q, V (~1/6)",
                "random": f"{base['random']} + L {args['iterations']}/{args['interval']}"}
