"""Formal proofs of the port contract with SymbiYosys: proofs by k-induction (with the stream model: every word the
golden model's under any control sequence), the bounded check where induction does not close, and violated
properties found (so a PASS is not vacuous)."""
import pytest
from amaranth.hdl import Assert

from pezo.cli import main
from pezo.golden import CltSpec, OtfSpec, PoolSpec
from pezo.hw import gaussian as gaussian_hw
from pezo.sim import formal, formal_models


def test_the_pool_contract_is_proven_for_every_reachable_state(tmp_path):
    proof = formal.prove(PoolSpec(size=15, bits=4, lanes=3, length_bits=4), tmp_path, depth=10)
    assert proof.kind == "proven" and proof.words


def test_every_word_is_the_golden_models_under_any_controls(tmp_path):
    """The stream model with the default 32-bit length, on a pool of 85 words and an otf array of 7 lanes."""
    for spec in (PoolSpec(size=255, bits=8, lanes=3), OtfSpec(generators=7, width=4)):
        folder = tmp_path / spec.strategy
        folder.mkdir()
        proof = formal.prove(spec, folder, depth=10)
        assert proof.kind == "proven" and proof.words, spec


def test_the_reloaded_array_is_proven(tmp_path):
    """reload=1: the stream model also predicts the n + (start mod n) busy cycles of every replay; induction closes
    once its depth exceeds the longest reload (2n)."""
    proof = formal.prove(OtfSpec(generators=3, width=4, length_bits=4, reload=1), tmp_path, depth=12)
    assert proof.kind == "proven" and proof.words and not proof.rotation


def test_a_wrong_golden_word_is_found(tmp_path, monkeypatch):
    """One bit of one golden word flipped: the stream model reaches that word and fails."""
    tables = formal_models.golden_tables

    def flipped(spec):
        found = tables(spec)
        found["words"][3] ^= 1 << 5
        return found

    monkeypatch.setattr(formal, "golden_tables", flipped)
    proof = formal.prove(PoolSpec(size=15, bits=4, lanes=3, length_bits=4), tmp_path, depth=8)
    assert proof.kind == "failed"


def test_the_stream_model_is_left_out_beyond_1024_words():
    assert formal.models_words(OtfSpec(generators=3, width=8))
    assert not formal.models_words(OtfSpec(generators=7, width=8))
    assert formal.models_words(OtfSpec(generators=7, width=8), words=True)
    assert not formal.models_words(CltSpec(lanes=2))
    with pytest.raises(ValueError, match="clt-2: the stream model tabulates the period, 9223372036854775807 words"):
        formal.models_words(CltSpec(lanes=2), words=True)


def test_the_clt_contract_is_proven_and_a_stuck_lane_is_found(tmp_path, monkeypatch):
    """The Gaussian baseline behind the sequencer keeps the port contract, and no lane (nor its shadow) is ever
    all-zero; lanes seeded with zero are caught."""
    spec = CltSpec(lanes=2, seed=3, length_bits=4)
    proof = formal.prove(spec, tmp_path / "good", depth=10)
    assert proof.kind == "proven" and not proof.words and not proof.rotation
    monkeypatch.setattr(gaussian_hw, "lane_seeds", lambda seed, lanes: [0] * lanes)
    assert formal.prove(spec, tmp_path / "stuck", depth=10).kind == "failed"


def test_the_otf_contract_is_proven_for_every_reachable_state(tmp_path):
    """With the rotation invariant; induction closes because the array's registers and shadows are asserted never
    zero as well."""
    proof = formal.prove(OtfSpec(generators=3, width=4, length_bits=4), tmp_path, depth=12)
    assert proof.kind == "proven" and proof.rotation and proof.words


def test_the_rotation_invariant_is_left_out_beyond_15_lanes():
    assert formal.rotates(OtfSpec(generators=15, width=8))
    assert not formal.rotates(OtfSpec(generators=31, width=8))
    assert formal.rotates(OtfSpec(generators=31, width=8), rotation=True)
    assert not formal.rotates(PoolSpec(size=15, bits=4))


def test_without_the_shadow_invariant_induction_does_not_close(tmp_path, monkeypatch):
    """The bounded fallback: an unreachable state with a zero shadow would replay a zero into the array (the
    rotation invariant and the stream model, left out here, would also close it)."""
    monkeypatch.setattr(formal_models, "_never_zero", lambda m, array, spec: None)
    spec = OtfSpec(generators=3, width=4, length_bits=4)
    assert formal.prove(spec, tmp_path, depth=8, rotation=False, words=False).kind == "bounded"


class Broken(formal.Contract):
    """The contract plus a property the generator violates: valid never rises."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += Assert(~self.dut.o.valid)
        return m


def test_a_violated_property_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(formal, "Contract", Broken)
    proof = formal.prove(PoolSpec(size=15, bits=4, length_bits=4), tmp_path, depth=6)
    assert proof.kind == "failed" and proof.trace is not None and proof.trace.exists()


def test_prove_command(tmp_path, capsys):
    assert main(["prove", "--strategy", "pool", "--size", "15", "--bits", "4", "--length-bits", "4", "--depth", "8",
                 "--workdir", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PROVEN pool-15x4: the port contract holds in every reachable state (k-induction, depth 8)")
    assert main(["prove", "--preset", "otf-31x8", "--depth", "0"]) == 2


@pytest.mark.parametrize("spec", [
    OtfSpec(generators=3, width=4, length_bits=4, leap=4),
    OtfSpec(generators=3, width=4, length_bits=4, leap=4, reload=1),
    PoolSpec(size=15, bits=4, lanes=3, length_bits=4, balanced=1),
    PoolSpec(size=15, bits=4, lanes=3, length_bits=4, slip=1),
    PoolSpec(size=15, bits=4, lanes=3, length_bits=4, hop_bits=2),
    OtfSpec(generators=3, width=4, length_bits=4, hop_bits=3),
], ids=lambda spec: spec.label)
def test_every_variant_is_proven(tmp_path, spec):
    """The variants of docs/spec.md sections 4b, 6a, 6b and 7 (hop), each with the stream model: every word the
    golden model's, a `next` with any hop skipping exactly hop words more."""
    proof = formal.prove(spec, tmp_path, depth=12)
    assert proof.kind == "proven" and proof.words and proof.rotation == (spec.strategy == "otf" and not spec.reload)
