"""The AXI wrappers: packets received by cocotbext-axi's AxiStreamSink under random backpressure equal the golden
perturbations bit for bit (with replays and moves to the next perturbation, on the ports and through the registers),
and the ZO engine's passes, run by the host driver over AXI4-Lite and two DMAs, the golden engine's, on both
simulators; a transfer of the wrong length is flagged."""
import json

import pytest
import torch

from pezo.golden import OtfSpec, PoolSpec, Stream
from pezo.hw.ip import write_ip
from pezo.sim import engine_sim
from pezo.sim.unit import run_bench

SPECS = {"otf-7x8": OtfSpec(generators=7, width=8, seed=5), "pool-255x8-l3": PoolSpec(size=255, bits=8, lanes=3)}
LENGTH, PLAN = 40, "rRnrNn"
"""Commands after each packet: lower case on the ports, upper case through the COMMAND register."""


def expected_packets(spec):
    """The words of each packet the plan receives, packed as tdata integers."""
    stream, packets, start = Stream(spec), [], 0
    m_bits, e_bits = spec.mantissa_bits, spec.exponent_bits
    for command in PLAN + ".":
        mantissas, exponents = stream(start, LENGTH)
        words = []
        for row, exponent in zip(mantissas.tolist(), exponents.tolist()):
            word = sum((value & ((1 << m_bits) - 1)) << (lane * m_bits) for lane, value in enumerate(row))
            words.append(word | (exponent & ((1 << e_bits) - 1)) << (spec.lanes * m_bits))
        packets.append(words)
        start += LENGTH if command in "nN" else 0
    return packets


@pytest.mark.parametrize("name, simulator", [(name, "icarus") for name in sorted(SPECS)] + [("otf-7x8", "verilator")])
def test_packets_bit_exact(name, simulator, tmp_path):
    """Both strategies on Icarus; Verilator (a slower build) on the otf wrapper."""
    spec = SPECS[name]
    top, _ = write_ip(spec, tmp_path / "ip")
    dump = tmp_path / "packets.txt"
    assert run_bench([tmp_path / "ip" / f"{top}.v"], top, "pezo.sim.axi_bench", simulator, tmp_path / "run",
                     {"PEZO_LENGTH": LENGTH, "PEZO_PLAN": PLAN, "PEZO_DUMP": dump})
    *lines, registers = dump.read_text().splitlines()
    assert [[int(word, 16) for word in line.split()] for line in lines] == expected_packets(spec)
    assert registers == f"{len(PLAN) + 1} 1"      # PACKETS counts every packet; STATUS: done, not busy


@pytest.mark.parametrize("name, fmt, simulator", [("pool-255x8-l3", "fp32", "icarus"), ("otf-7x8", "bf16", "icarus"),
                                                  ("pool-255x8-l3", "bf16", "verilator")])
def test_engine_steps_bit_exact(name, fmt, simulator, tmp_path):
    """The engine's IP driven by the host driver over AXI4-Lite, its streams by two DMAs with random gaps and
    backpressure: two ZO steps (perturb +, perturb -, update written back) over weights holding every special class
    equal the golden engine bit for bit; the PASSES counter counts them and no length error is flagged."""
    spec, beats = SPECS[name], 60
    top, streams = write_ip(spec, tmp_path / "ip", engine=fmt)
    assert set(streams) == {"S_AXIS_WEIGHTS", "M_AXIS_PERTURBED", "M_AXIS_UPDATED"}
    theta, plan = engine_sim.test_weights(beats * spec.lanes, fmt), engine_sim.step_plan(2)
    found = run_engine_bench(spec, fmt, simulator, tmp_path, "passes", {
        **plan, "bits": engine_sim.format_bits(fmt), "weights": engine_sim.to_bits(theta, fmt).tolist()})
    got = [torch.tensor(values).view(-1, spec.lanes) for values in found["passes"]]
    assert engine_sim.first_mismatch(got, engine_sim.golden_passes(spec, fmt, theta, plan)) is None
    assert found["status"] == {"busy": False, "length_error": False, "passes": 6, "errors": 0}


def run_engine_bench(spec, fmt, simulator, tmp_path, testcase, plan):
    """Run a test of sim/axi_engine_bench.py on the engine IP of `spec` and `fmt` (written to tmp_path/ip if not
    there); returns what it dumped."""
    if not (tmp_path / "ip").exists():
        write_ip(spec, tmp_path / "ip", engine=fmt)
    top = next((tmp_path / "ip").glob("*_axis.v")).stem
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    dump = tmp_path / "dump.json"
    assert run_bench([tmp_path / "ip" / f"{top}.v"], top, "pezo.sim.axi_engine_bench", simulator, tmp_path / "run",
                     {"PEZO_ENGINE_PLAN": tmp_path / "plan.json", "PEZO_DUMP": dump}, testcase)
    return json.loads(dump.read_text())


def test_a_transfer_of_the_wrong_length_is_flagged(tmp_path):
    """A weight transfer whose tlast comes early, and one whose tlast is missing on a pass's last beat, each set
    STATUS.length_error (sticky until cleared) and count in ERRORS; the driver raises on the flag; the passes still
    come out whole (LENGTH beats, tlast on the last); a clean pass after clearing leaves the flag clear."""
    length = 12
    found = run_engine_bench(SPECS["otf-7x8"], "fp32", "icarus", tmp_path, "length_errors", {"length": length})
    assert found["clean"] == {"busy": False, "length_error": False, "passes": 0, "errors": 0}
    assert found["early"] == {"busy": False, "length_error": True, "passes": 1, "errors": 1,
                              "received": length * 7 * 4}
    assert "tlast disagreed with LENGTH=12 beats" in found["raised"]
    assert found["cleared"]["length_error"] is False and found["cleared"]["errors"] == 1
    assert found["missing"] == {"busy": False, "length_error": True, "passes": 3, "errors": 2}
    assert found["after"] == {"busy": False, "length_error": False, "passes": 4, "errors": 2}
