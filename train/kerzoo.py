"""KerZOO (arXiv 2505.18886): a kernel-weighted two-point estimate. Query i scales its perturbation by a scalar
r_i ~ U[-1, 1] and weights its finite difference by the kernel K(r) = (15/4) r (5 - 7 r^2):

    g_hat = (1/q) sum_i [L(theta + eps r_i u_i) - L(theta - eps r_i u_i)] / (2 eps) K(r_i) u_i
    theta -= lr (g_hat + wd theta)

r_i is the i-th draw of numpy's default_rng([kernel_seed, step]), so it needs no state and replays on resume; the
perturbation is theta +- (r_i eps) u_i, the scalar r_i eps rounded once to the weights' format.
"""
import numpy as np

from .methods import QUERIES
from .zo import Argument, ZOOptimizer, register


def kernel(r):
    return 15.0 / 4.0 * r * (5.0 - 7.0 * r * r)


@register
class KerZOO(ZOOptimizer):
    name = "kerzoo"
    title = "KerZOO"
    paper = "arXiv 2505.18886 (KerZOO)"
    arguments = {"queries": QUERIES,
                 "kernel_seed": Argument(0, "seed of the kernel scalars r_i", minimum=0, maximum=2 ** 32 - 1)}

    def query_scales(self):
        """(r_i, K(r_i)) for each query, r_i the i-th draw of default_rng([kernel_seed, step])."""
        radii = np.random.default_rng([self.args["kernel_seed"], self.steps]).uniform(-1.0, 1.0, self.args["queries"])
        return [(r, kernel(r)) for r in radii.tolist()]
