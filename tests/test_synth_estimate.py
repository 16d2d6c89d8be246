"""Yosys estimates: cell counts of small blocks whose cost is known by construction, the cache, the LUT-level
count, and the `pezo synth estimate` command."""
import json

import pytest
from amaranth.hdl import Fragment

from pezo.cli import main
from pezo.golden import OtfSpec, PoolSpec
from pezo.synth.designs import blocks
from pezo.errors import ToolFailed
from pezo.synth import estimate as estimate_module
from pezo.synth.estimate import estimate_all, lut_levels, markdown, synthesise


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PEZO_CACHE", str(tmp_path / "cache"))


def test_blocks_by_construction(tmp_path):
    """An n x b array without replay: n*b FFs and n LUTs at one level; with replay twice the FFs. A 4095 x 12
    pool: 1.5 BRAM36 (three BRAM18) and 2 x 12 pointer FFs. Estimates are cached."""
    otf, pool = OtfSpec(generators=7, width=5, seed=3), PoolSpec(size=4095, bits=12)
    designs = {**blocks(otf, ["array", "array_noreplay"]), **blocks(pool, ["pool"])}
    estimates = estimate_all(designs, jobs=2)
    plain, replay = estimates["pezo_otf_7x5_array_noreplay"], estimates["pezo_otf_7x5_array"]
    assert (plain.ffs, plain.lut_total, plain.lut_levels, plain.bram18) == (35, 7, 1, 0)
    assert replay.ffs == 70 and replay.lut_levels == 1
    rom = estimates["pezo_pool_4095x12_pool"]
    assert (rom.bram18, rom.bram36, rom.ffs) == (3, 0, 24)
    assert len(list((tmp_path / "cache" / "synth").glob("*.json"))) == 3
    assert estimate_all(designs, jobs=1) == estimates
    table = markdown(estimates.values())
    assert "| pezo_otf_7x5_array_noreplay | 7 |" in table
    assert table.splitlines()[0].endswith("| MUXF | INV | LUT levels |")
    assert plain.inverters == plain.cells.get("INV", 0) > 0  # -dff: inverters around FFs that reset to 1


def test_a_failure_is_cached(tmp_path, monkeypatch):
    """Yosys's error exit is cached with its message: the same inputs fail again without running Yosys, until the
    cached failure is deleted."""
    broken = "module broken(input a, output b); assign b = ; endmodule\n"
    with pytest.raises(ToolFailed) as first:
        synthesise("broken", broken)
    stored, = (tmp_path / "cache" / "synth").glob("*.failed")
    monkeypatch.setattr(estimate_module.subprocess, "run", None)       # Yosys must not run again
    with pytest.raises(ToolFailed) as again:
        synthesise("broken", broken)
    assert str(again.value).endswith(str(first.value)) and str(stored) in str(again.value)
    assert "syntax error" in str(first.value)
    stored.unlink()
    with pytest.raises(TypeError):                                     # now it would run Yosys
        synthesise("broken", broken)


def test_lut_levels_on_a_hand_made_netlist():
    """FF -> LUT -> MUXF7 -> LUT -> FF is two levels; a carry adds none, nor a LUT of one distinct input (an
    inverter); ports start paths."""
    def cell(kind, inputs, outputs):
        return {"type": kind, "port_directions": {**{p: "input" for p in inputs}, **{p: "output" for p in outputs}},
                "connections": {**inputs, **outputs}}
    netlist = {"modules": {"top": {"cells": {
        "ff1": cell("FDRE", {"D": [9]}, {"Q": [2]}),
        "lut1": cell("LUT2", {"I0": [2], "I1": [1]}, {"O": [3]}),
        "mux": cell("MUXF7", {"I0": [3], "I1": [3], "S": [1]}, {"O": [4]}),
        "carry": cell("CARRY4", {"S": [4]}, {"O": [5]}),
        "lut2": cell("LUT6", {"I0": [5], "I1": [1]}, {"O": [6]}),
        "inverter": cell("LUT2", {"I0": [6], "I1": [6]}, {"O": [7]}),
        "ff2": cell("FDRE", {"D": [7]}, {"Q": [9]}),
    }}}}
    assert lut_levels(netlist, "top") == 2


def test_estimate_command(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["synth", "estimate", "--strategy", "otf", "--generators", "7", "--width", "5", "--seed", "3",
                 "--blocks", "array_noreplay", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pezo_otf_7x5_array_noreplay" in printed and "Yosys estimates" in printed
    record = json.loads(out.read_text())
    assert record["spec"]["generators"] == 7 and record["estimates"][0]["ffs"] == 35
    assert "not Vivado results" in record["caveat"]


@pytest.mark.parametrize("argv, message", [
    (["--preset", "otf-31x8", "--blocks", "pool"], "block 'pool' does not exist for strategy otf"),
    (["--preset", "otf-31x8", "--jobs", "0"], "--jobs 0 is out of range: allowed 1..64"),
    (["--strategy", "otf", "--width", "30"], "width=30 is out of range"),
])
def test_bad_input_exits_2(argv, message, tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["synth", "estimate", *argv, "--json", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_table6_bad_input(capsys):
    assert main(["synth", "table6", "--banks", "4"]) == 2
    assert "banks=4" in capsys.readouterr().err
    assert main(["synth", "table6", "--lanes", "0"]) == 2
    assert "--lanes 0 is out of range" in capsys.readouterr().err


def test_a_damaged_cache_entry_is_redone(tmp_path):
    designs = blocks(OtfSpec(generators=3, width=4), ["array_noreplay"])
    first = estimate_all(designs, jobs=1)
    (entry,) = (tmp_path / "cache" / "synth").glob("*.json")
    entry.write_text(entry.read_text()[:40])                     # a truncated write from an older crash
    assert estimate_all(designs, jobs=1) == first
    assert json.loads(entry.read_text())["ffs"] == 12


def test_the_estimate_of_a_build_uses_its_own_verilog(tmp_path, capsys):
    assert main(["export", "--strategy", "otf", "--generators", "3", "--width", "4", "--name", "my_top", "--out",
                 str(tmp_path / "b")]) == 0
    assert main(["synth", "estimate", "--manifest", str(tmp_path / "b"), "--blocks", "top,sequencer"]) == 0
    printed = capsys.readouterr().out
    assert "| my_top |" in printed and "| pezo_otf_3x4_sequencer |" in printed
    assert f"{tmp_path / 'b' / 'my_top.v'}: the build's own Verilog" in printed


def test_engine_blocks_and_an_engine_build(tmp_path, capsys):
    """The engine and one lane alone are blocks (a lane takes the generator's mantissa and exponent widths); an
    engine build's estimate asks for its engine block instead of pricing something else."""
    spec = OtfSpec(generators=3, width=4)
    designs = blocks(spec, ["engine_bf16", "engine_lane_fp32"])
    assert sorted(designs) == ["pezo_otf_3x4_engine_bf16", "pezo_otf_3x4_engine_lane_fp32"]
    lane = designs["pezo_otf_3x4_engine_lane_fp32"]()
    assert (len(lane.m), len(lane.k), len(lane.theta)) == (spec.mantissa_bits, spec.exponent_bits, 32)
    Fragment.get(lane, None)                        # it elaborates
    assert main(["export", "--preset", "otf-31x8", "--engine", "bf16", "--out", str(tmp_path / "b")]) == 0
    assert main(["synth", "estimate", "--manifest", str(tmp_path / "b"), "--blocks", "top"]) == 2
    assert "is the ZO engine's build: give --blocks engine_bf16" in capsys.readouterr().err
