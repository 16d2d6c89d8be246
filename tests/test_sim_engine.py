"""The engine's Verilog on Icarus and Verilator, bit for bit against the golden engine on the golden stream: two ZO
steps (perturb +, perturb -, update written back, twice) over weights of every class, with random gaps in the
weight stream and random backpressure, for both formats and both generator strategies. Verilator compares 10^6
values per configuration; Icarus, about twenty times slower here, 10^5 (`pezo sim --engine` runs any count)."""
import random

import pytest
import torch

from pezo.golden import OtfSpec, PoolSpec, engine
from pezo.sim import engine_sim

VALUES = {"verilator": 10 ** 6, "icarus": 10 ** 5}
SPECS = [PoolSpec(size=255, bits=8, lanes=5), OtfSpec(generators=7, width=6)]


def weights(count, fmt, seed=0):
    """Typical weights, with every special class among them: zeros, subnormals, the largest finite values,
    infinities, NaN, and random bit patterns."""
    rng = random.Random(seed)
    values = torch.tensor([rng.gauss(0, 0.05) for _ in range(count)], dtype=torch.float32)
    bits = engine_sim.to_bits(values, fmt)
    width = engine_sim.format_bits(fmt)
    special = [0, 1 << (width - 1), 1, 3, (1 << (width - 1)) | 1]
    special += [pattern >> (32 - width) for pattern in (0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
                                                        0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001)]
    for index in range(0, count, 97):
        bits[index] = special[(index // 97) % len(special)] if index % 2 else rng.getrandbits(width)
    return engine_sim.from_bits(bits, fmt)


def plan(steps, seed=3):
    rng = random.Random(seed)
    passes = []
    for _ in range(steps):
        c = engine_sim.scalar_bits(engine.fp32(rng.uniform(-1, 1) * 10 ** rng.uniform(-6, 0)))
        d = engine_sim.scalar_bits(engine.fp32(1 - 10 ** rng.uniform(-6, -2)))
        passes += [{"mode": 0, "c": 0, "d": 0}, {"mode": 1, "c": 0, "d": 0}, {"mode": 2, "c": c, "d": d}]
    return {"e": 10, "passes": passes}


@pytest.mark.parametrize("simulator", sorted(VALUES))
@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.strategy)
def test_engine_is_bit_exact(tmp_path, simulator, fmt, spec):
    steps = 2
    beats = -(-VALUES[simulator] // (3 * steps * spec.lanes))
    theta = weights(beats * spec.lanes, fmt)
    simulation = engine_sim.build(spec, fmt, simulator, tmp_path, beats)
    schedule = plan(steps)
    got, _ = simulation.run(theta, schedule)
    want = engine_sim.golden_passes(spec, fmt, theta, schedule)
    assert len(got) == len(want) == 3 * steps
    compared = 0
    for number, (out, expected) in enumerate(zip(got, want)):
        wrong = (out != expected).nonzero()
        assert not len(wrong), f"pass {number}: beat, lane {wrong[0].tolist()}: {out[tuple(wrong[0])]:#x}, " \
                               f"golden {expected[tuple(wrong[0])]:#x}"
        compared += out.numel()
    assert compared >= VALUES[simulator]
