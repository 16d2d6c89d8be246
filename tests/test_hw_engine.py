"""The engine (hw/engine.py: a generator and its lanes) in Amaranth's simulator: ZO steps of three passes (perturb
+, perturb -, update, written back) under random gaps in the weight stream and random backpressure on the outputs;
every lane of every beat equals the golden engine applied to the golden stream."""
import math
import random
import struct

import pytest
import torch
from amaranth.sim import Simulator

from pezo.golden import OtfSpec, PoolSpec, Stream, engine
from pezo.hw.engine import Engine

E = 9
WORDS = 12


def float_bits(values, fmt):
    bits = torch.tensor(values, dtype=torch.float32).view(torch.int32)
    return [(b & 0xFFFFFFFF) >> (0 if fmt == "fp32" else 16) for b in bits.tolist()]


def floats(bits, fmt):
    shift = 0 if fmt == "fp32" else 16
    return [struct.unpack("<f", struct.pack("<I", b << shift))[0] for b in bits]


def golden_pass(spec, fmt, start, theta_bits, mode, c, d):
    """The bits the engine must emit for one pass over `theta_bits` (flat, padded to whole words)."""
    mantissas, exponents = Stream(spec)(start, WORDS)
    u = torch.tensor([math.ldexp(int(mantissa), int(exponent)) for row, exponent in zip(mantissas, exponents)
                      for mantissa in row], dtype=torch.float32)
    theta = torch.tensor(floats(theta_bits, fmt), dtype=torch.float32)
    if mode == 2:
        result = engine.update(theta, u, c, fmt, d)
    else:
        result = engine.perturb(theta, u, 1 if mode == 0 else -1, E, fmt)
    return float_bits(result.tolist(), fmt)


@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
@pytest.mark.parametrize("spec", [PoolSpec(size=255, bits=8, lanes=5), OtfSpec(generators=7, width=6)])
def test_zo_steps_through_the_engine(spec, fmt):
    rng = random.Random(7)
    lanes, width = spec.lanes, 32 if fmt == "fp32" else 16
    theta = float_bits([rng.gauss(0, 0.05) for _ in range(WORDS * lanes)], fmt)
    theta[:4] = float_bits([0.0, -0.0, math.inf, math.nan], fmt)
    dut = Engine(spec, fmt)
    checked = []

    async def bench(ctx):
        nonlocal theta
        ctx.set(dut.length, WORDS)
        ctx.set(dut.e, E)
        start = 0
        for step in range(2):
            c, d = engine.fp32(rng.uniform(-1, 1) * 1e-3), engine.fp32(1 - 1e-3)
            ctx.set(dut.c, struct.unpack("<I", struct.pack("<f", c))[0])
            ctx.set(dut.d, struct.unpack("<I", struct.pack("<f", d))[0])
            for mode in (0, 1, 2):
                ctx.set(dut.mode, mode)
                out = dut.updated if mode == 2 else dut.perturbed
                sent, received, lasts, cycles = 0, [], [], 0
                while len(received) < WORDS * lanes:
                    cycles += 1
                    assert cycles < 40 * WORDS, f"step {step} mode {mode}: the engine stalled"
                    offer = sent < WORDS and rng.random() < 0.75
                    ctx.set(dut.w.valid, offer)
                    if offer:
                        beat = theta[sent * lanes:(sent + 1) * lanes]
                        ctx.set(dut.w.payload.as_value(), sum(b << (width * j) for j, b in enumerate(beat)))
                    ready = rng.random() < 0.75
                    ctx.set(dut.perturbed.ready, ready)
                    ctx.set(dut.updated.ready, ready)
                    taken = ctx.get(dut.w.valid) and ctx.get(dut.w.ready)
                    assert not (ctx.get(dut.perturbed.valid) and ctx.get(dut.updated.valid))
                    if ctx.get(out.valid) and ready:
                        value = ctx.get(out.payload.as_value())
                        received += [(value >> (width * j)) & ((1 << width) - 1) for j in range(lanes)]
                        lasts.append((value >> (width * lanes)) & 1)
                    await ctx.tick()
                    sent += taken
                ctx.set(dut.w.valid, 0)
                assert lasts == [0] * (WORDS - 1) + [1]
                assert received == golden_pass(spec, fmt, start, theta, mode, c, d), (step, mode)
                checked.append((step, mode))
                if mode == 2:
                    theta = received                        # written back
                for _ in range(2):                          # the replay or next takes effect
                    await ctx.tick()
                for _ in range(4 * WORDS):
                    if not ctx.get(dut.busy):
                        break
                    await ctx.tick()
            start += WORDS

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    assert checked == [(step, mode) for step in range(2) for mode in range(3)]
