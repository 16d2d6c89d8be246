"""DiZO (Tan et al., 2025, Algorithm 1 and section 3.3): ZO-SGD plus, every `interval` steps, a layer-wise
divergence-driven projection of chosen weight tensors (the attention Query and Value weights, Appendix C.1) towards
or away from the pre-trained weights theta_0, learned by ZO on the step's mini-batch.

A projection round over the projected tensors l = 1..L, with t_l = ||theta_l - theta_0,l||_2 and z in R^L drawn from
the perturbation source, one value per tensor per iteration:

projection `gamma` (the default; the official code's step): gamma_l is the distance the round sets, from gamma_l = t_l.

    repeat `iterations` times:
        z_l = clip(z_l, -(tau / gamma_eps) t_l, (tau / gamma_eps) t_l)          (so gamma_eps z_l is within +-tau t_l)
        L+- = L(theta_0 + (theta - theta_0) (gamma +- gamma_eps z) / (t + 1e-8))
        c = (L+ - L-) / (2 gamma_eps)
        gamma_l = clip(gamma_l - gamma_lr t_l c z_l, (1 - tau) t_l, (1 + tau) t_l)
    theta_l = theta_0,l + (theta_l - theta_0,l) gamma_l / (t_l + 1e-8)

projection `ratio` (the first official code's step, scale-free): the same round on rho_l = gamma_l / t_l, from 1,
with rho +- gamma_eps z unclipped, rho_l = clip(rho_l - gamma_lr c z_l, 1 - tau, 1 + tau) and theta_l = theta_0,l +
rho_l (theta_l - theta_0,l).

The candidate weights are swapped in and the originals put back exactly; t, gamma and the scale factors are float64.
Only `.weight` tensors whose name has a component in `targets` are projected (with LoRA: the A and B factors of the
query and value adapters, one by one, as the official code projects every LoRA tensor). theta_0 of the projected
tensors is the extra state (a sixth of a transformer's weights), checkpointed.
"""
import math

import torch

from .methods import ESTIMATOR, QUERIES
from .zo import Argument, ZOOptimizer, register

OFFSET = 1e-8
"""Added to ||theta - theta_0|| in the gamma projection's scale factor (the official code's)."""


@register
class DiZO(ZOOptimizer):
    name = "dizo"
    title = "DiZO"
    paper = "Tan et al., 2025 (DiZO), Algorithm 1, section 3.3, Appendix C, Table 7"
    reproduces = ("the official code's projection round (`zo` mode: gamma from t, z clipped to +-(tau / eps') t, "
                  "gamma clipped to [(1 - tau) t, (1 + tau) t]) and its defaults")
    differences = ("the official code projects Key and Value (`--targets k_proj,v_proj,key,value`; the paper and "
                   "pezo's default: Query and Value), draws a fresh mini-batch per iteration (pezo: the step's), "
                   "z from torch's N(0, 1) (pezo: the perturbation source), keeps t and gamma in fp16 and "
                   "divides each candidate's offset back (pezo: float64, originals restored exactly), and does "
                   "not train OPT's embedding. `--projection ratio --gamma-eps 0.2 --gamma-lr 10` is its first "
                   "repository's step")
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "interval": Argument(50, "steps between projection rounds (the official default; Table 7: 50..400)",
                                      minimum=1),
                 "iterations": Argument(10, "ZO iterations per projection round", minimum=1, maximum=1000),
                 "tau": Argument(0.2, "clip range of the projection (Table 7: 0.1..0.3)", minimum=0.0, maximum=1.0),
                 "gamma_eps": Argument(0.1, "perturbation of the projection (Table 7: 0.05..0.1)", minimum=1e-12),
                 "gamma_lr": Argument(2.0, "learning rate of the projection", minimum=0.0),
                 "projection": Argument("gamma", "learn the distance gamma (the official step) or the ratio gamma / t",
                                        choices=("gamma", "ratio")),
                 "targets": Argument("q_proj,v_proj,query,value", "name components of the projected weights")}

    def __init__(self, params, source, **options):
        super().__init__(params, source, **options)
        targets = set(self.args["targets"].split(","))
        self.projected = [param for name, param, _ in self.named
                          if name.split(".")[-1] == "weight" and targets & set(name.split("."))]
        if not self.projected:
            raise ValueError(f"method dizo found no trainable weight named by targets={self.args['targets']!r}: "
                             f"allowed names ending in .weight with one of those components (e.g. "
                             f"model.layers.0.self_attn.q_proj.weight)")
        for param in self.projected:
            self.state[param]["anchor"] = param.detach().clone()

    def update(self, estimate, closure):
        super().update(estimate, closure)
        if (self.steps + 1) % self.args["interval"] == 0:
            estimate.losses["projection"] = self.project(closure)

    def project(self, closure):
        """One projection round; returns the scale factors applied, or None when a loss was not finite (the round
        is then dropped and the weights stay as they are)."""
        eps, tau, gamma = self.args["gamma_eps"], self.args["tau"], self.args["projection"] == "gamma"
        distance = torch.tensor([torch.linalg.vector_norm(param - self.state[param]["anchor"], dtype=torch.float64)
                                 for param in self.projected], dtype=torch.float64)
        unit = distance if gamma else torch.ones_like(distance)      # what "1" is: gamma = t, or rho = 1
        value = unit.clone()
        shape = torch.empty(len(self.projected))                      # the shape of z: one value per tensor
        for _ in range(self.args["iterations"]):
            z = next(self.source.tensors([shape])).to(torch.float64)
            self.source.next(len(self.projected))
            if gamma:
                z = torch.clamp(z, -tau / eps * distance, tau / eps * distance)
            plus, minus = (self.projected_loss(closure, self.factors(value + sign * eps * z, distance))
                           for sign in (1, -1))
            if not (math.isfinite(plus) and math.isfinite(minus)):
                return None
            grad = (plus - minus) / (2 * eps)
            value = value - self.args["gamma_lr"] * unit * grad * z
            value = torch.clamp(value, (1 - tau) * unit, (1 + tau) * unit)
        factors = self.factors(value, distance)
        for param, factor in zip(self.projected, factors):
            anchor = self.state[param]["anchor"]
            param.sub_(anchor).mul_(factor).add_(anchor)
        return factors

    def factors(self, value, distance):
        """The factor by which each tensor's offset from theta_0 is scaled: gamma / (t + 1e-8), or rho."""
        if self.args["projection"] == "gamma":
            value = value / (distance + OFFSET)
        return value.tolist()

    def projected_loss(self, closure, factors):
        """L(theta_0 + factor (theta - theta_0)) over the projected tensors, with theta restored bit for bit."""
        originals = [param.data for param in self.projected]
        for param, factor in zip(self.projected, factors):
            anchor = self.state[param]["anchor"]
            param.data = (param.data - anchor).mul_(factor).add_(anchor)
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
