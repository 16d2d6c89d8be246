"""The MeZO baseline Gaussian lanes: the golden output Gaussian at its stated precision (moments and
Kolmogorov-Smirnov), and the clt spec's stream its lanes' outputs at the constant exponent. The RTL is compared with
the golden model bit for bit on both simulators as the clt strategy's generator (tests/test_sim.py)."""
import math

import numpy as np
import pytest
from scipy import stats

from pezo.golden import CltSpec, Stream, gaussian, quality

SEED = 12345


def test_leap_matches_the_bit_recurrence():
    """The 48-step leap equals 48 single steps of x[i] = x[i - 63] ^ x[i - 62]."""
    state = gaussian.lane_seeds(7, 1)[0]
    single = state
    for _ in range(gaussian.LEAP):
        single = ((single << 1) | ((single >> 62) ^ (single >> 61)) & 1) & ((1 << 63) - 1)
    assert gaussian.leap(state) == single


def test_output_range_and_width():
    values, pmf = gaussian.output_pmf()
    assert values[0] == -gaussian.OFFSET and values[-1] == gaussian.OFFSET
    assert gaussian.OFFSET < 1 << (gaussian.OUTPUT_BITS - 1)
    assert math.isclose(pmf.sum(), 1.0) and math.isclose(float(values @ pmf), 0.0, abs_tol=1e-9)


def test_gaussian_moments_and_ks():
    """2^20 outputs of 4 lanes: mean 0, variance 1, skewness 0, kurtosis of Irwin-Hall(4) (3 - 6/20); the KS
    distance to N(0, 1) within the design's exact distance plus the 99.9% sampling allowance, and the KS test
    against the exact discrete distribution not rejected."""
    z = gaussian.outputs(2024, 4, 1 << 18).ravel() / gaussian.SIGMA
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z, fisher=False) - (3 - 6 / 20)) < 5 * math.sqrt(24 / n)
    precision = gaussian.normal_distance()
    assert precision < 0.008
    assert stats.kstest(z, "norm").statistic < precision + 1.95 / math.sqrt(n)
    values, pmf = gaussian.output_pmf()
    cdf = np.cumsum(pmf)
    exact = stats.kstest(z * gaussian.SIGMA, lambda x: cdf[np.clip(np.floor(x).astype(int) + gaussian.OFFSET,
                                                                     0, cdf.size - 1)])
    assert exact.statistic < 1.95 / math.sqrt(n)


def test_bad_seed_is_named():
    with pytest.raises(ValueError, match="seed=0 is out of range"):
        gaussian.lane_seeds(0, 4)


def test_words_at_any_position_in_any_order():
    """Words.read jumps, continues a read (at its last word or the next) and cuts long reads into runs: every
    output equals the lanes stepped from reset."""
    expected = gaussian.outputs(SEED, 16, 5000)
    words = gaussian.Words(SEED, 16)
    for start, count in ((0, 1500), (1499, 2000), (3499, 1), (3500, 1500), (10, 3), (12, 1100), (4000, 600)):
        assert np.array_equal(words.read(start, count), expected[start:start + count]), (start, count)


def test_the_clt_stream_is_the_lanes_outputs_at_the_constant_exponent():
    spec = CltSpec(lanes=5, seed=SEED)
    mantissas, exponents = Stream(spec)(1000, 40)
    assert np.array_equal(mantissas.numpy(), gaussian.outputs(SEED, 5, 1040)[1000:])
    assert (exponents == gaussian.EXPONENT).all() and gaussian.EXPONENT == -11
    values = Stream(spec).values(5000 * 5 + 3, 17).numpy()
    assert np.array_equal(values, gaussian.outputs(SEED, 5, 5005).ravel()[5000 * 5 + 3:][:17] * 2.0 ** -11)


def test_the_clt_mean_square_is_the_exact_distributions():
    """E[u^2] = SIGMA^2 2^-22 = (4/3)(1 - 2^-24), from the exact output distribution; the quality analysis
    reports the values as independent, with the hop the spec asks for."""
    values, pmf = gaussian.output_pmf()
    assert math.isclose(float(values.astype(np.float64) ** 2 @ pmf) * 2.0 ** -22, gaussian.MEAN_SQUARE, rel_tol=1e-12)
    assert math.isclose(gaussian.MEAN_SQUARE, 4 / 3 * (1 - 2 ** -24), rel_tol=1e-15)
    found = quality.analyse(CltSpec(lanes=4, hop_bits=2), 1008)
    assert found.mean_square == gaussian.MEAN_SQUARE and found.reach is None and found.step_bias == 0
    assert found.words_per_perturbation == 252 and found.hop == 1     # 7 divides 252 and 2^63 - 1; 253 is coprime
