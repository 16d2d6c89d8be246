"""The golden stream equals the spec's literal, cycle-by-cycle definitions, and its real values are exact."""
import math

import numpy as np
import pytest
import torch

from pezo.golden import CltSpec, OtfSpec, PoolSpec, Stream, lfsr, words_per_perturbation
from pezo.golden import stream as stream_module
from pezo.golden.otf import exponent_table, lane_seeds, stride
from pezo.golden.pool import pool_table, splitmix64
from pezo.golden.scaling import gaussian_modulus, power_of_two_exponents

SMALL_OTF = [OtfSpec(generators=3, width=4), OtfSpec(generators=7, width=5, seed=9), OtfSpec(generators=1, width=6),
             OtfSpec(generators=31, width=8, seed=77)]


def literal_array(spec, words):
    """Registers r[j] <= step(r[(j+1) mod n]) and a reference register, one word at a time (spec sections 4-5)."""
    registers, reference = lane_seeds(spec), spec.seed
    table = exponent_table(spec).exponents
    out_m, out_k = [], []
    for _ in range(words):
        out_m.append([r - (1 << (spec.width - 1)) for r in registers])
        out_k.append(int(table[reference]))
        n = spec.generators
        registers = [lfsr.step(registers[(j + 1) % n], spec.width) for j in range(n)]
        reference = lfsr.step(reference, spec.width)
    return np.array(out_m), np.array(out_k)


@pytest.mark.parametrize("spec", SMALL_OTF, ids=str)
def test_otf_words_equal_the_literal_rotating_array(spec):
    count = min(2 * spec.period_words + 5, 3000)
    mantissas, exponents = Stream(spec)(0, count)
    want_m, want_k = literal_array(spec, count)
    assert np.array_equal(mantissas.numpy(), want_m)
    assert np.array_equal(exponents.numpy(), want_k)


@pytest.mark.parametrize("spec", SMALL_OTF, ids=str)
def test_exponent_table_is_exact_over_a_full_period(spec):
    """Every word's exponent from its own mantissas equals the table entry read by generator 0's state."""
    mantissas, exponents = Stream(spec)(0, spec.period_words)
    squares = (mantissas ** 2).sum(dim=1).numpy()
    nonzero = squares > 0
    direct = power_of_two_exponents(squares[nonzero], spec.generators)
    assert np.array_equal(exponents.numpy()[nonzero], direct)
    assert (exponents.numpy()[~nonzero] == exponent_table(spec).low).all()


def test_exponent_table_does_not_depend_on_the_seed():
    a, b = exponent_table(OtfSpec(generators=7, width=10, seed=1)), exponent_table(OtfSpec(generators=7, width=10,
                                                                                           seed=700))
    assert np.array_equal(a.exponents, b.exponents)


@pytest.mark.parametrize("spec", [OtfSpec(), OtfSpec(width=14), OtfSpec(generators=7, width=12)], ids=str)
def test_scaled_words_have_gaussian_modulus_within_a_factor_sqrt2(spec):
    mantissas, exponents = Stream(spec)(12345, 5000)
    norms = torch.ldexp(mantissas.double(), exponents[:, None].double()).norm(dim=1)
    target = gaussian_modulus(spec.generators)
    assert (norms > target / math.sqrt(2)).all() and (norms <= target * math.sqrt(2)).all()


def test_gaussian_modulus_closed_forms():
    assert gaussian_modulus(1) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-14)
    assert gaussian_modulus(2) == pytest.approx(math.sqrt(math.pi / 2), rel=1e-14)
    assert gaussian_modulus(3) == pytest.approx(2 * math.sqrt(2 / math.pi), rel=1e-14)
    assert gaussian_modulus(4095) == pytest.approx(math.sqrt(4095 - 0.5), rel=1e-6)


def test_rounding_rule_and_tie():
    # E_1 = sqrt(2/pi): log2 = -0.3257; S = 1 -> k = floor(-0.3257 + 0.5) = 0; S = 4 -> floor(-1.3257 + .5) = -1.
    assert power_of_two_exponents([1, 4, 2], 1).tolist() == [0, -1, -1]


@pytest.mark.parametrize("spec", SMALL_OTF + [OtfSpec(width=14)], ids=str)
def test_lanes_start_spread_along_the_sequence(spec):
    seeds = lane_seeds(spec)
    walk = lfsr.sequence(spec.width, spec.seed, lfsr.period(spec.width))
    assert seeds == [int(walk[j * stride(spec)]) for j in range(spec.generators)]
    assert len(set(seeds)) == spec.generators and 0 not in seeds


@pytest.mark.parametrize("width", [4, 8, 14])
def test_output_mapping_is_symmetric_and_zero_mean(width):
    mantissas, _ = Stream(OtfSpec(generators=1, width=width))(0, lfsr.period(width))
    values = mantissas.view(-1)
    assert values.sum() == 0 and values.max() == -values.min() == (1 << (width - 1)) - 1


def test_splitmix64_reference_vector():
    assert splitmix64(1234567, 3).tolist() == [6457827717110365317, 3203168211198807973, 9817491932198370423]


@pytest.mark.parametrize("spec", [PoolSpec(), PoolSpec(size=255, bits=8, lanes=15), PoolSpec(size=65535, bits=16,
                                                                                             lanes=3, seed=5)], ids=str)
def test_pool_contents_fit_and_have_gaussian_modulus(spec):
    table = pool_table(spec)
    largest = (1 << (spec.bits - 1)) - 1
    assert np.abs(table.mantissas).max() <= largest
    assert np.abs(table.mantissas).max() > largest // 2, "the exponent is the tightest that fits"
    modulus = np.linalg.norm(np.ldexp(table.mantissas.astype(np.float64), table.exponent))
    assert modulus == pytest.approx(gaussian_modulus(spec.size), rel=2.0 ** -(spec.bits - 3))
    assert np.array_equal(np.concatenate([table.bank(j, spec.lanes)[:, None] for j in range(spec.lanes)], axis=1)
                          .reshape(-1), table.mantissas)


def test_pool_reads_cyclically_in_whole_words():
    spec = PoolSpec(size=255, bits=8, lanes=5)
    mantissas, exponents = Stream(spec)(50, 10)
    entries = pool_table(spec).mantissas
    want = [entries[((50 + w) % 51) * 5:((50 + w) % 51) * 5 + 5] for w in range(10)]
    assert np.array_equal(mantissas.numpy(), np.array(want))
    assert (exponents == pool_table(spec).exponent).all()


def test_pool_depends_on_seed():
    assert not np.array_equal(pool_table(PoolSpec(seed=1)).mantissas, pool_table(PoolSpec(seed=2)).mantissas)


@pytest.mark.parametrize("spec", [OtfSpec(generators=7, width=6), PoolSpec(size=255, bits=8, lanes=5)], ids=str)
@pytest.mark.parametrize("cached, periods", [(True, 2), (True, 0), (False, 2)])
def test_values_equal_words_across_period_boundaries(spec, cached, periods, monkeypatch):
    """Cached (a block of two periods, or of one when the period alone is longer than a block) and computed."""
    monkeypatch.setattr(stream_module, "BLOCK_VALUES", max(1, periods * spec.period_words * spec.lanes))
    monkeypatch.setattr(stream_module, "CHUNK_VALUES", 7 * spec.lanes)  # the cached period, too: 7 words at a time
    if not cached:
        monkeypatch.setattr(stream_module, "PERIOD_CACHE_VALUES", 0)
    stream = Stream(spec)
    first, count = 3 * spec.period_words * spec.lanes - 11, 5 * spec.period_words * spec.lanes + 3
    words = stream(first // spec.lanes, count // spec.lanes + 2)
    want = torch.ldexp(words[0].double(), words[1][:, None].double()).view(-1)[first % spec.lanes:][:count]
    got = stream.values(first, count)
    assert got.dtype == torch.float32 and torch.equal(got.double(), want)


def test_a_long_period_keeps_its_latest_chunks_within_a_bound(monkeypatch):
    """A stream without a period block keeps the chunks it computed: reading them again computes nothing (an
    emptied word source would fail), the kept values stay within KEPT_VALUES, the oldest dropped first, and a chunk
    larger than the bound is not kept (nor does it drop what is); a stream with a period block keeps nothing."""
    spec = CltSpec(lanes=16, seed=7)
    monkeypatch.setattr(stream_module, "KEPT_VALUES", 16 * 300)
    stream, fresh = Stream(spec), Stream(spec)
    reads = [(0, 1600), (1600, 1600), (900 * 16, 1600)]
    for first, count in reads:
        stream.values(first, count)
    stream.words = None
    for first, count in reads:
        assert torch.equal(stream.values(first, count), fresh.values(first, count))
    stream.words = fresh.words
    stream.values(1000 * 16, 1600)                                     # a fourth chunk drops the oldest
    assert list(stream._kept) == [(100, 100), (900, 100), (1000, 100)] and stream._kept_values == 16 * 300
    assert torch.equal(stream.values(0, 400 * 16), fresh.values(0, 400 * 16))
    assert list(stream._kept) == [(100, 100), (900, 100), (1000, 100)]
    blocked = Stream(OtfSpec(generators=7, width=6))
    blocked.values(0, 700)
    assert blocked._kept == {}


def test_perturbations_take_whole_words():
    spec = OtfSpec()
    assert words_per_perturbation(spec, 62) == 2 and words_per_perturbation(spec, 63) == 3
    stream = Stream(spec)
    u = stream.perturbation(start_word=4, values=40)
    assert torch.equal(u, stream.values(4 * 31, 40))


@pytest.mark.parametrize("cached", [True, False])
def test_unscaled_values_are_the_raw_mantissas(cached, monkeypatch):
    if not cached:
        monkeypatch.setattr(stream_module, "PERIOD_CACHE_VALUES", 0)
    spec = OtfSpec(generators=7, width=6)
    mantissas, _ = Stream(spec)(3, 40)
    assert torch.equal(Stream(spec, scaled=False).values(3 * 7, 40 * 7), mantissas.view(-1).float())
