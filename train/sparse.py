"""Sparse perturbations: ZO-SGD's rule on m ⊙ u, the mask m (one bit per weight, for one step) applied in the passes
and in the update. A masked-out weight is neither perturbed nor updated nor decayed. Each step logs `density`, the
share of the step's values in the mask.

- `sparse-mezo` (Liu et al., 2024, Sparse-MeZO): perturb the small weights. Each tensor l has a threshold h_l fixed
  before training from the weights at the start (the paper determines "the threshold of each layer" once, by a
  percentile at the target sparsity; pezo takes each tensor as a layer): h_l = the k-th smallest |theta_l|,
  k = ceil((1 - sparsity) numel). Every step the mask is recomputed from the current weights, m = |theta_l| <= h_l
  (the paper's dynamic mask; <= as printed, so entries tied with h_l all count). A tensor whose starting magnitudes
  are all equal (zero biases, LoRA's B = 0, untrained norm gains) has no magnitude order: it is perturbed in full
  (h_l = inf), as is every tensor at sparsity 0 (which is ZO-SGD exactly).
- `zo-sgd-sparse` (ZO-Bench section 6, Table 8): random masks at magnitude-derived ratios. Before training, group
  `global` takes T = the `sparsity` quantile of |theta| over all trainable weights (a sample of 10^7 when there are
  more) and gives tensor l the ratio r_l = share of its |theta| <= T; group `layer` gives every tensor r_l =
  sparsity. A weight is masked out where a fresh draw x is below r_l: x ~ N(0, 1) as ZO-Bench's code draws it
  (`draw normal`: it masks out Phi(r_l) of the tensor, half at r = 0), or x ~ U[0, 1) (`draw uniform`: r_l of it,
  the share the paper describes). The draws come from a torch Generator seeded from (mask_seed, step // resample)
  on the weights' device, tensor after tensor in order: one mask per `resample` steps, addressable by step.
"""
import fractions
import math

import numpy as np
import torch

from .methods import ESTIMATOR, QUERIES
from .zo import Argument, ZOOptimizer, register

SAMPLE = 10 ** 7
"""Entries of |theta| from which zo-sgd-sparse's global threshold is taken (ZO-Bench's bound)."""


class Masked(ZOOptimizer):
    """ZO-SGD on a masked u: `mask(name, param)` gives the step's mask of one tensor (computed in `begin`)."""

    def begin(self):
        self.masks = {param: self.mask(name, param) for name, param, _ in self.active()}

    def end(self):
        self.masks = {}

    def direction(self, param, u):
        return u.mul_(self.masks[param])

    def estimate(self, closure):
        estimate = super().estimate(closure)
        kept = sum(int(mask.sum()) for mask in self.masks.values())
        estimate.losses["density"] = kept / self.active_values()
        return estimate

    def shares_queries(self):
        return True                 # the q-query estimate itself; every rank makes the same masks

    def apply(self, name, param, group, grad):
        """theta -= lr (g + wd m theta): ZO-SGD's rule, decaying only the weights in the mask."""
        decay = self.decay(name, group)
        if decay:
            grad.add_(param.mul(self.masks[param]).mul_(decay))
        param.sub_(grad.mul_(group["lr"]))

    @classmethod
    def demands(cls, args):
        mask = "0 (a mask per weight during a step: 1 bit in hardware, 1 byte in torch)"
        return {**super().demands(args), "buffers": mask}


@register
class SparseMeZO(Masked):
    name = "sparse-mezo"
    title = "Sparse-MeZO"
    paper = "Liu et al., 2024 (Sparse-MeZO), Algorithm 1 with the dynamic mask"
    reproduces = "the paper's dynamic mask: thresholds fixed before training, the mask recomputed every step"
    differences = ("the official code could not be read; from the paper: a layer is taken to be a weight tensor; "
                   "the paper prints theta <= h, pezo compares abs(theta) (its text selects small magnitudes); "
                   "tensors without a magnitude order are perturbed whole; masked weights are not decayed (the "
                   "paper has no weight decay)")
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "sparsity": Argument(0.8, "share of each tensor left out at the start (its largest magnitudes); "
                                           "0.8 is the paper's best for most tasks", minimum=0.0, maximum=0.999999)}

    def __init__(self, params, source, **options):
        super().__init__(params, source, **options)
        for _, param, _ in self.named:
            self.state[param]["threshold"] = threshold(param, self.args["sparsity"])

    def mask(self, name, param):
        return param.detach().abs() <= self.state[param]["threshold"]


def threshold(param, sparsity):
    """h = the k-th smallest |theta|, k = ceil((1 - sparsity) numel) in exact decimal arithmetic (0.7 of 100 leaves
    30); inf where every weight is kept (sparsity 0, or all magnitudes equal), as a 0-d tensor on the weight's
    device."""
    magnitude = param.detach().abs().flatten()
    k = math.ceil((1 - fractions.Fraction(repr(sparsity))) * magnitude.numel())
    if k == magnitude.numel() or bool((magnitude == magnitude[0]).all()):
        return torch.tensor(math.inf, dtype=param.dtype, device=param.device)
    return magnitude.kthvalue(k).values


@register
class ZOSGDSparse(Masked):
    name = "zo-sgd-sparse"
    title = "ZO-SGD-Sparse"
    paper = "ZO-Bench section 6, Table 8 (sparsity-induced ZO gradient estimation)"
    reproduces = ("ZO-Bench's `gradient_sparsity` with `sparse_gradient_group` and "
                  "`sparse_gradient_resample_steps` (`--draw normal`, its mask rule)")
    differences = ("ZO-Bench takes the global quantile over every parameter of the model, frozen ones included "
                   "(pezo: the trainable ones), from a permutation (pezo: with replacement, over 10^7); its "
                   "q > 1 path masks the perturbation but not the update (pezo: both); its masks come from a "
                   "CUDA generator, so their bits differ")
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "sparsity": Argument(0.2, "ZO-Bench's gradient sparsity s (20%, the moderate ratio its section 6 "
                                           "recommends)", minimum=0.0, maximum=1.0),
                 "group": Argument("global", "ratios from one magnitude quantile over all weights, or s everywhere",
                                   choices=("global", "layer")),
                 "draw": Argument("normal", "the draw compared with a tensor's ratio", choices=("normal", "uniform")),
                 "resample": Argument(1, "steps between fresh masks", minimum=1),
                 "mask_seed": Argument(0, "seed of the masks (and of the global threshold's sample)", minimum=0,
                                       maximum=2 ** 32 - 1)}

    def __init__(self, params, source, **options):
        super().__init__(params, source, **options)
        sparsity, params = self.args["sparsity"], [param for _, param, _ in self.named]
        cut = global_threshold(params, sparsity, self.args["mask_seed"]) if self.args["group"] == "global" else None
        for param in params:
            ratio = sparsity if cut is None else (param.detach().abs() <= cut).double().mean().item()
            self.state[param]["ratio"] = ratio          # a float: torch's load_state_dict would cast a tensor

    def begin(self):
        window = self.steps // self.args["resample"]
        self.seed = int(np.random.SeedSequence([self.args["mask_seed"], window]).generate_state(1)[0])
        self.generators = {}
        super().begin()

    @classmethod
    def demands(cls, args):
        base = super().demands(args)
        return {**base, "random": f"{base['random']} + d / {args['resample']} (mask draws)"}

    def mask(self, name, param):
        if param.device not in self.generators:
            self.generators[param.device] = torch.Generator(param.device).manual_seed(self.seed)
        draw = torch.randn if self.args["draw"] == "normal" else torch.rand
        x = draw(param.shape, generator=self.generators[param.device], device=param.device)
        return x >= self.state[param]["ratio"]


def global_threshold(params, sparsity, seed):
    """The `sparsity` quantile of |theta| over all of `params`: over every entry when there are at most SAMPLE,
    else over SAMPLE entries drawn uniformly (with replacement, seeded)."""
    sizes = [param.numel() for param in params]
    if sum(sizes) <= SAMPLE:
        sample = torch.cat([param.detach().abs().flatten().float().cpu() for param in params])
    else:
        picks = torch.randint(sum(sizes), (SAMPLE,), generator=torch.Generator().manual_seed(seed)).sort().values
        pieces, start = [], 0
        for param, size in zip(params, sizes):
            low, high = torch.searchsorted(picks, torch.tensor([start, start + size])).tolist()
            offsets = (picks[low:high] - start).to(param.device)
            pieces.append(param.detach().abs().flatten()[offsets].float().cpu())
            start += size
        sample = torch.cat(pieces)
    return torch.quantile(sample, sparsity).item()
