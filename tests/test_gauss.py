"""The MeZO baseline Gaussian lanes: RTL equal to the golden model bit for bit on both simulators, and the
golden output Gaussian at its stated precision (moments and Kolmogorov-Smirnov)."""
import math

import numpy as np
import pytest
from scipy import stats

from pezo.golden import gaussian
from pezo.hw.gaussian import GaussianLanes
from pezo.hw.verilog import emit
from pezo.sim.runner import SIMULATORS
from pezo.sim.unit import run_bench

LANES, SEED, WORDS = 3, 12345, 1500


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_bit_exact(simulator, tmp_path):
    source = tmp_path / "pezo_gaussian.v"
    source.write_text(emit(GaussianLanes(LANES, SEED), "pezo_gaussian"))
    dump = tmp_path / "words.hex"
    assert run_bench([source], "pezo_gaussian", "pezo.sim.gaussian_bench", simulator, tmp_path / "run",
                     {"PEZO_WORDS": WORDS, "PEZO_READY_SEED": 5, "PEZO_DUMP": dump})
    raw = [int(line, 16) for line in dump.read_text().split()]
    mask, bits = (1 << gaussian.OUTPUT_BITS) - 1, gaussian.OUTPUT_BITS
    got = np.array([[((word >> (bits * j) & mask) ^ (1 << bits - 1)) - (1 << bits - 1) for j in range(LANES)]
                    for word in raw])
    np.testing.assert_array_equal(got, gaussian.outputs(SEED, LANES, WORDS))


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
