"""The engine's Verilog on Icarus and Verilator, bit for bit against the golden engine on the golden stream: two ZO
steps (perturb +, perturb -, update written back, twice) over weights of every class, with random gaps in the
weight stream and random backpressure, for both formats and both generator strategies. Verilator compares 10^6
values per configuration; Icarus, about twenty times slower here, 10^5 (`pezo sim --engine` runs any count)."""
import pytest

from pezo.golden import OtfSpec, PoolSpec
from pezo.golden.stream import hop
from pezo.sim import engine_sim

VALUES = {"verilator": 10 ** 6, "icarus": 10 ** 5}
SPECS = [PoolSpec(size=255, bits=8, lanes=5), OtfSpec(generators=7, width=6)]


def engine_params():
    """Every strategy x format on each simulator; the short form runs two of the four on Verilator (otf in fp32,
    pool in bf16: each strategy and each format once), the long form (`pytest --long`) all four."""
    short = {("otf", "fp32"), ("pool", "bf16")}
    return [pytest.param(spec, fmt, simulator, id=f"{spec.strategy}-{fmt}-{simulator}",
                         marks=[pytest.mark.long] if simulator == "verilator" and (spec.strategy, fmt) not in short
                         else [])
            for spec in SPECS for fmt in ("fp32", "bf16") for simulator in sorted(VALUES)]


@pytest.mark.parametrize("spec, fmt, simulator", engine_params())
def test_engine_is_bit_exact(tmp_path, simulator, fmt, spec):
    steps = 2
    beats = -(-VALUES[simulator] // (3 * steps * spec.lanes))
    theta = engine_sim.test_weights(beats * spec.lanes, fmt)
    simulation = engine_sim.build(spec, fmt, simulator, tmp_path, beats)
    schedule = engine_sim.step_plan(steps)
    got, _ = simulation.run(theta, schedule)
    want = engine_sim.golden_passes(spec, fmt, theta, schedule)
    assert len(want) == 3 * steps and engine_sim.first_mismatch(got, want) is None
    assert sum(out.numel() for out in got) >= VALUES[simulator]


def test_an_engine_with_a_hop_input_is_bit_exact(tmp_path, simulator="icarus"):
    """A generator with a hop input: after each update pass the next perturbation starts W + hop words on (2001
    beats of 7 lanes on a period of 63 words: hop 2), in the RTL as in the golden engine."""
    spec, beats = OtfSpec(generators=7, width=6, hop_bits=4), 2001
    theta = engine_sim.test_weights(beats * spec.lanes, "fp32")
    assert hop(spec, theta.numel()) == 2
    simulation = engine_sim.build(spec, "fp32", simulator, tmp_path, beats)
    schedule = engine_sim.step_plan(2)
    got, _ = simulation.run(theta, schedule)
    assert engine_sim.first_mismatch(got, engine_sim.golden_passes(spec, "fp32", theta, schedule)) is None
