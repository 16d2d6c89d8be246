"""The engine's lane (hw/engine_lane.py), fed by the scalar decoders of c and d as the engine feeds it, in Amaranth's
simulator against the golden engine (golden/engine.py), on random operands of every class, both formats, update and
perturb operands, with pipeline stalls, and with the lane's own assertions on its internal invariants."""
import math
import random
import struct

import pytest
import torch
from amaranth.hdl import Module
from amaranth.sim import Simulator

from pezo.golden import engine
from pezo.hw.engine_lane import LATENCY, EngineLane, ScalarDecoder

MANTISSA_BITS, EXPONENT_BITS = 12, 7


def fp32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def theta_values(fmt, rng, count):
    """Bits of random weights: specials, random bit patterns and typical small weights."""
    width = 32 if fmt == "fp32" else 16
    special = [0, 1 << (width - 1), 1, (1 << (width - 1)) | 1, 0x7F800000 >> (32 - width),
               0xFF800000 >> (32 - width), 0x7FC00000 >> (32 - width), 0x7F7FFFFF >> (32 - width),
               0x00800000 >> (32 - width), 0x007FFFFF >> (32 - width)]
    drawn = [rng.getrandbits(width) for _ in range(count)]
    near = [fp32_bits(rng.uniform(-0.2, 0.2)) >> (32 - width) for _ in range(count)]
    return special + drawn + near


def operands(rng, count):
    """(m, k, c, d) with c and d fp32 values: host scalars of all sizes, and the perturb mode's -s 2^-e, 1."""
    found = []
    for index in range(count):
        m = rng.randrange(-(1 << (MANTISSA_BITS - 1)), 1 << (MANTISSA_BITS - 1))
        k = rng.randrange(-(1 << (EXPONENT_BITS - 1)), 1 << (EXPONENT_BITS - 1))
        if index % 3 == 0:
            c, d = -rng.choice([1, -1]) * 2.0 ** -rng.randrange(0, 40), 1.0
        else:
            c = engine.fp32(rng.choice([1, -1]) * 10 ** rng.uniform(-30, 5))
            d = rng.choice([1.0, 0.0, engine.fp32(1 - 10 ** rng.uniform(-8, -1)), engine.fp32(rng.uniform(0, 2))])
        found.append((m, k, c, d))
    return found


def golden_bits(fmt, theta, m, k, c, d):
    width = 32 if fmt == "fp32" else 16
    value = struct.unpack("<f", struct.pack("<I", theta << (32 - width)))[0]
    result = engine.update(torch.tensor([value]), torch.tensor([math.ldexp(m, k)]), c, fmt, d)
    return (result.view(torch.int32).item() & 0xFFFFFFFF) >> (32 - width)


def ties(fmt):
    """Directed cases: weights one to three ulps above 1, 2^-120 and the smallest subnormal, plus or minus a half, a
    quarter or three quarters of an ulp (ties to even both ways, and the round and sticky bits), in perturb form
    (c = -2^(e + 40), d = 1, k = -40)."""
    width, precision = (32, 24) if fmt == "fp32" else (16, 8)
    cases = []
    for base, ulp in ((1.0, 1 - precision), (2.0 ** -120, -120 - precision + 1), (None, -126 - precision + 1)):
        for step in range(4):
            theta = (fp32_bits(base) >> (32 - width)) + step if base else 1 + step
            for m, below in ((1, 1), (-1, 1), (1, 2), (3, 2), (-3, 2)):
                cases.append((theta, m, -40, -2.0 ** (ulp - below + 40), 1.0))
    return cases


def far_below(fmt):
    """Directed cases whose sum lies below the normal range, down to far below the smallest subnormal (where it
    rounds to zero or, from just under half of it, up): theta zero, the smallest subnormal or its negative, plus
    c m 2^k from 2^-126 down to 2^-213, c subnormal too."""
    width = 32 if fmt == "fp32" else 16
    thetas = (0, 1, (1 << (width - 1)) | 1, 1 << (width - 1))
    scalars = [2.0 ** -149, 3 * 2.0 ** -149, 2.0 ** -127, 2.0 ** -100, 1.5 * 2.0 ** -126, -2.0 ** -140]
    return [(theta, m, k, c, 1.0) for theta in thetas for m in (1, -1, 3, -5) for k in (-64, -24, -23, -22, -1, 0)
            for c in scalars]


def decoded_lane(fmt):
    """(design, lane, c's bits, d's bits): a lane with a ScalarDecoder in front of c and of d, as hw/engine.py wires
    them (c and d given with theta)."""
    design, lane = Module(), EngineLane(fmt, MANTISSA_BITS, EXPONENT_BITS, checks=True)
    c, d = ScalarDecoder(), ScalarDecoder()
    design.submodules += [lane, c, d]
    design.d.comb += [lane.c.eq(c.scalar), lane.d.eq(d.scalar), c.advance.eq(lane.advance),
                      d.advance.eq(lane.advance)]
    return design, lane, c.bits, d.bits


@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
def test_lane_equals_the_golden_engine(fmt):
    rng = random.Random(5)
    thetas = theta_values(fmt, rng, 400)
    drawn = [(theta, *operand) for theta, operand in zip(thetas, operands(rng, len(thetas)))]
    cases = ties(fmt) + far_below(fmt) + drawn
    design, lane, c_bits, d_bits = decoded_lane(fmt)
    got = []

    async def bench(ctx):
        pending = []
        for case in cases + [None] * LATENCY:
            while rng.random() < 0.2:                       # a stall: nothing moves
                ctx.set(lane.advance, 0)
                await ctx.tick()
            ctx.set(lane.advance, 1)
            if case is not None:
                theta, m, k, c, d = case
                ctx.set(lane.theta, theta)
                ctx.set(lane.m, m)
                ctx.set(lane.k, k)
                ctx.set(c_bits, fp32_bits(c))
                ctx.set(d_bits, fp32_bits(d))
            pending.append(case)
            await ctx.tick()
            if len(pending) == LATENCY:                     # LATENCY advances: the oldest case's result
                if pending.pop(0) is not None:
                    got.append(ctx.get(lane.result))

    simulator = Simulator(design)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    want = [golden_bits(fmt, *case) for case in cases]
    wrong = [(case, hex(g), hex(w)) for case, g, w in zip(cases, got, want) if g != w]
    assert len(got) == len(cases) and not wrong, wrong[:5]
