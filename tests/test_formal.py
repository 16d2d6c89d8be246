"""Formal proofs of the port contract with SymbiYosys: proofs by k-induction, the bounded check where induction
does not close, and a violated property found (so a PASS is not vacuous)."""
from amaranth.hdl import Assert

from pezo.cli import main
from pezo.golden import OtfSpec, PoolSpec
from pezo.sim import formal


def test_the_pool_contract_is_proven_for_every_reachable_state(tmp_path):
    assert formal.prove(PoolSpec(size=15, bits=4, lanes=3, length_bits=4), tmp_path, depth=10).kind == "proven"


def test_the_otf_contract_is_proven_for_every_reachable_state(tmp_path):
    """With the rotation invariant; induction closes because the array's registers and shadows are asserted never
    zero as well."""
    proof = formal.prove(OtfSpec(generators=3, width=4, length_bits=4), tmp_path, depth=12)
    assert proof.kind == "proven" and proof.rotation


def test_the_rotation_invariant_is_left_out_beyond_15_lanes():
    assert formal.rotates(OtfSpec(generators=15, width=8))
    assert not formal.rotates(OtfSpec(generators=31, width=8))
    assert formal.rotates(OtfSpec(generators=31, width=8), rotation=True)
    assert not formal.rotates(PoolSpec(size=15, bits=4))


def test_without_the_shadow_invariant_induction_does_not_close(tmp_path, monkeypatch):
    """The bounded fallback: an unreachable state with a zero shadow would replay a zero into the array (the
    rotation invariant, left out here, would also close it: every generator shows in some lane every word)."""
    monkeypatch.setattr(formal, "_never_zero", lambda m, array, spec: None)
    spec = OtfSpec(generators=3, width=4, length_bits=4)
    assert formal.prove(spec, tmp_path, depth=8, rotation=False).kind == "bounded"


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
