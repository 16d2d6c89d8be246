"""The spec object: validation with clear errors, warnings for regular patterns, JSON round trip."""
import json
import warnings

import pytest

from pezo.golden import OtfSpec, PerturbSpec, PoolSpec, RegularPatternWarning, SpecError, Stream


@pytest.mark.parametrize("make, match", [
    (lambda: OtfSpec(width=25), r"width=25 is out of range: allowed 2\.\.24"),
    (lambda: OtfSpec(width=1), r"width=1 is out of range"),
    (lambda: OtfSpec(generators=0), r"generators=0 is out of range: allowed 1\.\.255"),
    (lambda: OtfSpec(generators=16, width=4), r"generators=16 is out of range: allowed 1\.\.15"),
    (lambda: OtfSpec(generators=5000, width=16), r"generators=5000 is out of range: allowed 1\.\.4096"),
    (lambda: OtfSpec(seed=0), r"seed=0 is out of range: allowed 1\.\.255"),
    (lambda: OtfSpec(seed=256), r"seed=256 is out of range"),
    (lambda: OtfSpec(exp_bits=3), r"exponents -6\.\.-6 overflow exp_bits=3 \(holds -4\.\.3\): allowed exp_bits 4\.\.16"),
    (lambda: OtfSpec(exp_bits=1), r"exp_bits=1 is out of range: allowed 2\.\.16"),
    (lambda: OtfSpec(length_bits=1), r"length_bits=1 is out of range"),
    (lambda: OtfSpec(width=8.0), r"width must be an integer, got 8\.0"),
    (lambda: OtfSpec(reload=2), r"reload=2 is out of range: allowed 0\.\.1"),
    (lambda: OtfSpec(generators=1, reload=1), r"reload=1 needs generators >= 2"),
    (lambda: PoolSpec(size=1), r"size=1 is out of range: allowed 2\.\."),
    (lambda: PoolSpec(seed=0), r"seed=0 is out of range"),
    (lambda: PoolSpec(bits=25), r"bits=25 is out of range: allowed 2\.\.24"),
    (lambda: PoolSpec(lanes=8), r"lanes=8 does not divide size=4095.*allowed lanes include \[1, 3, 5, 7, 9"),
    (lambda: PoolSpec(lanes=0), r"lanes=0 is out of range"),
    (lambda: PoolSpec(size=8, lanes=8), r"lanes=8 is out of range: allowed 1\.\.4"),
    (lambda: PoolSpec(exp_bits=4), r"exponents -10\.\.-10 overflow exp_bits=4"),
])
def test_invalid_configurations_name_value_and_range(make, match):
    with pytest.raises(SpecError, match=match):
        make()


@pytest.mark.parametrize("make", [lambda: OtfSpec(generators=32), lambda: PoolSpec(size=4096, lanes=8)])
def test_power_of_two_sizes_warn(make):
    with pytest.warns(RegularPatternWarning, match="power of two"):
        make()


def test_paper_defaults_are_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for spec in (OtfSpec(generators=31, width=8), OtfSpec(generators=31, width=14),
                     PoolSpec(size=4095, bits=12), PoolSpec(size=4095, bits=12, lanes=5)):
            assert spec.lanes in (31, 1, 5)


def test_reload_is_recorded_only_when_set():
    """A spec without the field (written before it existed) means reload=0; the stream does not depend on it."""
    assert "reload" not in OtfSpec().to_dict() and OtfSpec(reload=1).to_dict()["reload"] == 1
    assert PerturbSpec.from_dict({"strategy": "otf", "generators": 7}) == OtfSpec(generators=7, reload=0)
    plain, reloaded = Stream(OtfSpec(generators=7)), Stream(OtfSpec(generators=7, reload=1))
    assert all((a == b).all() for a, b in zip(plain(100, 50), reloaded(100, 50)))


@pytest.mark.parametrize("spec", [OtfSpec(generators=7, width=12, seed=99, exp_bits=6),
                                  OtfSpec(generators=31, width=8, reload=1),
                                  PoolSpec(size=255, bits=8, lanes=15, seed=2**63, length_bits=20)])
def test_json_round_trip(spec):
    text = spec.to_json()
    assert json.loads(text)["strategy"] == spec.strategy
    assert PerturbSpec.from_json(text) == spec


def test_from_dict_rejects_unknown_strategy_and_fields():
    with pytest.raises(SpecError, match=r"strategy='gauss' is unknown: allowed \['clt', 'otf', 'pool'\]"):
        PerturbSpec.from_dict({"strategy": "gauss"})
    with pytest.raises(SpecError, match=r"unknown field\(s\) \['size'\] for strategy 'otf'"):
        PerturbSpec.from_dict({"strategy": "otf", "size": 10})


def test_specs_are_frozen_and_hashable():
    spec = OtfSpec()
    with pytest.raises(AttributeError):
        spec.width = 9
    assert {spec: 1}[OtfSpec()] == 1


@pytest.mark.parametrize("spec", [OtfSpec(generators=31, width=8), OtfSpec(generators=31, width=8, exp_bits=8),
                                  PoolSpec(size=4095, bits=12), PoolSpec(size=4095, bits=12, exp_bits=16)], ids=str)
def test_exponent_bits(spec):
    """The exponent field is exp_bits wide if given, else the narrowest signed width holding every exponent."""
    _, exponents = Stream(spec)(0, spec.period_words)
    low, high = int(exponents.min()), int(exponents.max())

    def fits(bits):
        return -(1 << (bits - 1)) <= low and high < 1 << (bits - 1)

    bits = spec.exponent_bits
    assert fits(bits)
    assert bits == spec.exp_bits if spec.exp_bits else bits == 2 or not fits(bits - 1)
