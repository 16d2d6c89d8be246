"""The generator variants meet the statistics they exist for, computed here independently of golden/quality.py:
full reach with a hop, no periodic confinement with a slipping pool, decorrelation with a leap-ahead array, and a
balanced pool. Their bit-exact simulations are in test_sim.py, their proofs in test_formal.py."""
import math

import numpy as np
import pytest

from pezo.golden import OtfSpec, PoolSpec, SpecError, Stream
from pezo.golden.pool import pool_table
from pezo.golden.quality import analyse
from pezo.golden.stream import hop, words_per_perturbation, words_per_step
from pezo.hw.export import ManifestError, export, load_manifest
from pezo.train import perturbations

DEFAULT_VALUES = 134_515_008
"""The default model's trainable values (full fine-tuning)."""


def perturbation_matrix(spec, values, count):
    """The first `count` perturbations of `values` values a trainer's source hands out, as rows."""
    source = perturbations.make(spec.source, spec=spec)
    stream, rows = Stream(spec), []
    for _ in range(count):
        rows.append(stream.perturbation(source.position, values).numpy().astype(np.float64))
        source.next(values)
    return np.array(rows)


@pytest.mark.parametrize("spec", [OtfSpec(hop_bits=8), PoolSpec(hop_bits=8), OtfSpec(generators=7, width=12,
                                                                                 hop_bits=8)],
                         ids=lambda spec: spec.label)
def test_a_hop_gives_every_model_full_reach(spec):
    """Perturbations start gcd-coprime word distances apart for any trainable count, so K = the period; without
    a hop the same counts leave as few as 1 (otf-31x8 on the default model: 85)."""
    for values in (DEFAULT_VALUES, 31 * 7905, 10 ** 6, 4095 * 33, 1):
        step = words_per_step(spec, values)
        assert math.gcd(step, spec.period_words) == 1
        assert all(math.gcd(step - extra, spec.period_words) > 1 for extra in range(1, hop(spec, values) + 1))
        assert analyse(spec, values).reach == spec.period_words
    assert analyse(OtfSpec(), DEFAULT_VALUES).reach == 85 and analyse(OtfSpec(hop_bits=8), DEFAULT_VALUES).hop == 2


def test_distinct_perturbations_with_a_hop_counted_directly():
    """otf-3x5 (period 93 words) and 18 values per perturbation (6 words, gcd 3 with 93): listing the perturbation
    vectors of about two periods' steps finds K = 93 distinct ones with the hop (7 words a step), 31 without."""
    for hop_bits, values, distinct in ((0, 18, 31), (2, 18, 93)):
        spec = OtfSpec(generators=3, width=5, hop_bits=hop_bits)
        rows = perturbation_matrix(spec, values, 200)
        assert len({row.tobytes() for row in rows}) == distinct == analyse(spec, values).reach


def test_the_hop_input_must_fit():
    spec = PoolSpec(size=4095, bits=12, hop_bits=1)          # 4095 = 3^2 5 7 13: 6 + h needs h >= 2
    with pytest.raises(ValueError, match="no hop below 2\\^1"):
        hop(spec, 6)
    assert hop(PoolSpec(size=4095, bits=12, hop_bits=2), 6) == 2
    with pytest.raises(SpecError, match="hop_bits=33 is out of range: allowed 0..32"):
        OtfSpec(hop_bits=33)


def test_a_slipping_pool_is_not_confined_to_a_periodic_subspace():
    """pool-255x8: every perturbation is periodic in the weight index with period 255, so 600 perturbations of
    5,000 values span at most 255 dimensions; with slip (and a hop for full reach) they span 600, min(T, d)."""
    for slip, span in ((0, 255), (1, 600)):
        spec = PoolSpec(size=255, bits=8, slip=slip, hop_bits=4)
        rank = np.linalg.matrix_rank(perturbation_matrix(spec, 5_000, 600))
        assert rank == span, (slip, rank)


def test_a_slipping_pools_period():
    spec = PoolSpec(size=255, bits=8, lanes=3, slip=1)
    words = Stream(spec)(0, 2 * spec.period_words)[0].numpy()
    assert spec.period_words == 85 ** 2 and np.array_equal(words[:spec.period_words], words[spec.period_words:])
    table = pool_table(spec).mantissas.reshape(85, 3)
    for w in (0, 84, 85, 86, 85 * 84 + 84):
        assert np.array_equal(words[w], table[(w + w // 85) % 85])


def autocorrelations(spec, lags):
    s = Stream(spec).values(0, spec.period_words * spec.lanes).numpy().astype(np.float64)
    return [np.corrcoef(s, np.roll(s, -k))[0, 1] for k in lags]


@pytest.mark.parametrize("spec", [OtfSpec(width=11, leap=11), OtfSpec(width=10, leap=20),
                                  OtfSpec(generators=7, width=8, leap=8)], ids=lambda spec: spec.label)
def test_a_leap_ahead_array_is_decorrelated(spec):
    """|r| <= 0.05 at every lag up to 4 lanes; the same arrays with leap 1 correlate 0.48 (31 lanes) or 0.38 (7)
    at lag n - 1 (otf-31x14-leap14, 0.001, is in bench/variant_cost.py)."""
    lags = range(1, 4 * spec.lanes + 1)
    assert max(abs(r) for r in autocorrelations(spec, lags)) <= 0.05
    plain = autocorrelations(OtfSpec(generators=spec.generators, width=spec.width), [spec.lanes - 1])[0]
    assert plain > 0.35


def test_no_leap_decorrelates_otf_31x8():
    """The 4n + 1 = 125 values within lag 4n are states of one 255-state sequence, so two of them are at most
    2 steps apart (pigeonhole), about 1/4 correlated, whatever the leap: every allowed leap exceeds 0.05."""
    worst = [abs(analyse(OtfSpec(leap=leap), 10 ** 6).worst_correlation)
             for leap in range(1, 33) if math.gcd(leap, 255) == 1]
    assert len(worst) == 17 and min(worst) > 0.15


def test_leaps_that_shorten_the_period_are_refused():
    with pytest.raises(SpecError, match="leap=3 shares a factor with 2\\^8 - 1 = 255"):
        OtfSpec(leap=3)
    with pytest.raises(SpecError, match="leap=33 is out of range: allowed 1..32"):
        OtfSpec(leap=33)


@pytest.mark.parametrize("spec", [PoolSpec(balanced=1), PoolSpec(size=255, bits=8, lanes=15, seed=3, balanced=1),
                                  PoolSpec(size=65535, bits=16, lanes=3, seed=99, balanced=1)],
                         ids=lambda spec: spec.label)
def test_a_balanced_pool_has_mean_zero_and_unit_mean_square(spec):
    """Sum of mantissas exactly 0 (the plain pool-4095x12: mean -0.037); E[u^2] within 2 units of 4^k / N of 1,
    far inside one LSB's effect on E[u^2], (2 max|m| + 1) 4^k / N."""
    table = pool_table(spec)
    m, unit = table.mantissas, 4.0 ** table.exponent
    assert int(m.sum()) == 0 and sorted(m.tolist()) == sorted((-m).tolist())
    assert abs(int(np.sum(m * m)) * unit - spec.size) <= 2 * unit
    assert abs(int(np.sum(m * m)) * unit / spec.size - 1) < (2 * int(np.abs(m).max()) + 1) * unit / spec.size
    assert np.abs(m).max() <= (1 << (spec.bits - 1)) - 1
    quality = analyse(spec, 10 ** 6)
    assert quality.mean == 0 and abs(quality.mean_square - 1) < 1e-5
    assert abs(analyse(PoolSpec(), 10 ** 6).mean) > 0.03


def test_the_trainers_source_follows_the_hop():
    spec = OtfSpec(hop_bits=8)
    source = perturbations.make("pezo-otf", spec=spec)
    source.next(DEFAULT_VALUES)
    assert source.position == words_per_perturbation(spec, DEFAULT_VALUES) + 2 == words_per_step(spec, DEFAULT_VALUES)


@pytest.mark.parametrize("spec", [OtfSpec(width=14, leap=14), OtfSpec(leap=7, reload=1),
                                  PoolSpec(balanced=1, slip=1, hop_bits=8)], ids=lambda spec: spec.label)
def test_variants_export_and_their_manifests_are_checked(tmp_path, spec):
    folder = export(spec, tmp_path / "build")
    assert load_manifest(folder) == spec
    manifest = (folder / "manifest.json").read_text()
    if spec.strategy == "otf":
        assert '"leap_columns"' in manifest
        broken = manifest.replace(f'"leap": {spec.leap}', '"leap": 1')
    else:
        broken = manifest.replace('"balanced": 1', '"balanced": 0')
    (folder / "manifest.json").write_text(broken)
    with pytest.raises(ManifestError):
        load_manifest(folder)
