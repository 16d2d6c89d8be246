"""KerZOO (arXiv 2505.18886): a kernel-weighted two-point estimate. Query i scales its perturbation by a scalar
r_i ~ U[-1, 1] and weights its finite difference by the kernel K(r) = (15/4) r (5 - 7 r^2):

    g_hat = (1/q) sum_i [L(theta + eps r_i u_i) - L(theta - eps r_i u_i)] / (2 eps) K(r_i) u_i
    theta -= lr (g_hat + wd theta)

r_i is addressed by the position of its query's u, as u is: r(position) = U[-1, 1] drawn from numpy's
default_rng([kernel_seed, position]). A query is therefore still one position (the update, a resume, another rank
and a hardware replay all find r_i from it), and the run records only kernel_seed. The perturbation is
theta +- (r_i eps) u_i, the scalar r_i eps rounded once to the weights' format.
"""
import numpy as np

from .methods import QUERIES
from .zo import Argument, ZOOptimizer, register


def kernel(r):
    return 15.0 / 4.0 * r * (5.0 - 7.0 * r * r)


def radius(seed, position):
    """The kernel scalar r of the query whose u starts at `position`: U[-1, 1] from default_rng([seed, position])."""
    return float(np.random.default_rng([seed, position]).uniform(-1.0, 1.0))


@register
class KerZOO(ZOOptimizer):
    name = "kerzoo"
    title = "KerZOO"
    paper = "arXiv 2505.18886 (KerZOO)"
    reproduces = "the estimator of the paper's abstract and a public summary of it (no official code found)"
    differences = ("no official code to compare with; r_i is keyed by its query's position (a choice of pezo's, "
                   "so that hardware can regenerate it)")
    arguments = {"queries": QUERIES,
                 "kernel_seed": Argument(0, "seed of the kernel scalars r_i", minimum=0, maximum=2 ** 32 - 1)}

    def query_scales(self, positions):
        """(r_i, K(r_i)) for each query, r_i = radius(kernel_seed, position_i)."""
        radii = [radius(self.args["kernel_seed"], position) for position in positions]
        return [(r, kernel(r)) for r in radii]

    @classmethod
    def demands(cls, args):
        queries = args.get("queries", 1)
        return {**super().demands(args), "random": f"{queries} d + {queries} (the r_i)"}
