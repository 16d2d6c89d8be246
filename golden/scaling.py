"""Adaptive modulus scaling: the expected Gaussian norm E_n and the power-of-two exponent rule."""
import math

import numpy as np


def gaussian_modulus(n):
    """E||N(0, I_n)|| = sqrt(2) * Gamma((n+1)/2) / Gamma(n/2) (PeZO Eq. 4/5), via lgamma, in float64."""
    return math.sqrt(2.0) * math.exp(math.lgamma((n + 1) / 2) - math.lgamma(n / 2))


def power_of_two_exponents(sum_squares, n):
    """Exponent k per word so that 2^k * ||m|| is nearest E_n on a log scale: floor(log2 E_n - log2(S)/2 + 1/2).

    sum_squares holds S = sum of the word's squared integer mantissas (S > 0); ties round up. float64 numpy.
    """
    target = math.log2(gaussian_modulus(n))
    return np.floor(target - 0.5 * np.log2(np.asarray(sum_squares, dtype=np.float64)) + 0.5).astype(np.int64)
