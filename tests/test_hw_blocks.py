"""The datapath blocks (LfsrArray, Scaler, Pool) against the golden stream, word by word.

Each block is driven with the sequencer's strobes (advance, save, restore) directly: a constant advance walks a
whole period, random strobes exercise the shadow copy. `positions` is the reference of `replayable`: the word
each block must present in every cycle.
"""
import random

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

from pezo.golden import OtfSpec, PoolSpec, Stream
from pezo.golden.otf import lane_seeds
from pezo.hw.lfsr_array import LfsrArray
from pezo.hw.pool import Pool
from pezo.hw.scaler import Scaler


OTF = [OtfSpec(generators=3, width=4), OtfSpec(generators=7, width=5), OtfSpec(generators=31, width=8)]
POOL = [PoolSpec(size=15, bits=4, lanes=3), PoolSpec(size=255, bits=8, lanes=15), PoolSpec(size=4095, bits=12),
        PoolSpec(size=4095, bits=12, lanes=5)]


def fields(value, count, bits, signed):
    """Split an integer into `count` fields of `bits` bits, field 0 least significant."""
    out = np.array([(value >> (i * bits)) & ((1 << bits) - 1) for i in range(count)], dtype=np.int64)
    return np.where(signed & (out >> (bits - 1) == 1), out - (1 << bits), out)


def simulate(dut, controls, read):
    """Drive one (advance, save, restore) per cycle; return read(ctx) of every cycle, taken before its edge."""
    outputs = []

    async def testbench(ctx):
        for advance, save, restore in controls:
            ctx.set(dut.control.advance, advance)
            ctx.set(dut.control.save, save)
            ctx.set(dut.control.restore, restore)
            outputs.append(read(ctx))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return outputs


def positions(controls, period):
    """The word position a replayable block holds in each cycle."""
    position = start = 0
    out = []
    for advance, save, restore in controls:
        out.append(position)
        if save:
            start = position
        if restore:
            position = start
        elif advance:
            position = (position + 1) % period
    return np.array(out)


def random_controls(cycles, seed):
    """Strobes as the sequencer drives them: at most one of advance, save and restore per cycle."""
    rng = random.Random(seed)
    strobes = [(1, 0, 0)] * 6 + [(0, 1, 0), (0, 0, 1)] + [(0, 0, 0)] * 2
    return [rng.choice(strobes) for _ in range(cycles)]


def full_period(spec):
    return [(1, 0, 0)] * (spec.period_words + 2)


def check_lfsr_array(spec, controls):
    dut = LfsrArray(spec.width, lane_seeds(spec))
    states = simulate(dut, controls, lambda ctx: ctx.get(dut.states.as_value()))
    got = np.array([fields(value, spec.generators, spec.width, False) for value in states])
    mantissas, _ = Stream(spec)(0, spec.period_words)
    expected = mantissas.numpy()[positions(controls, spec.period_words)] + (1 << (spec.width - 1))
    np.testing.assert_array_equal(got, expected)


def check_scaler(spec, controls):
    dut = Scaler(spec)
    got = np.array(simulate(dut, controls, lambda ctx: ctx.get(dut.exponent)))
    _, exponents = Stream(spec)(0, spec.period_words)
    expected = exponents.numpy()[positions(controls, spec.period_words)]
    np.testing.assert_array_equal(got[1:], expected[1:])  # the ROM fetches its first entry in cycle 0


def check_pool(spec, controls):
    dut = Pool(spec)
    words = simulate(dut, controls, lambda ctx: ctx.get(dut.mantissas.as_value()))
    got = np.array([fields(value, spec.lanes, spec.bits, True) for value in words])
    mantissas, _ = Stream(spec)(0, spec.period_words)
    expected = mantissas.numpy()[positions(controls, spec.period_words)]
    np.testing.assert_array_equal(got[1:], expected[1:])


@pytest.mark.parametrize("spec", OTF, ids=str)
def test_lfsr_array_full_period(spec):
    check_lfsr_array(spec, full_period(spec))


@pytest.mark.parametrize("spec", OTF, ids=str)
def test_scaler_full_period(spec):
    check_scaler(spec, full_period(spec))


@pytest.mark.parametrize("spec", POOL, ids=str)
def test_pool_full_period(spec):
    check_pool(spec, full_period(spec))


def test_lfsr_array_replay():
    check_lfsr_array(OtfSpec(generators=7, width=5, seed=9), random_controls(1500, seed=1))


def test_scaler_replay():
    check_scaler(OtfSpec(generators=7, width=5, seed=9), random_controls(1500, seed=2))


def test_pool_replay():
    check_pool(PoolSpec(size=21, bits=6, lanes=3, seed=5), random_controls(1500, seed=3))


def test_lfsr_array_rotates_by_wiring():
    """Register j's next value depends on register j + 1 (and the shadow) only: no n-way multiplexer."""
    text = rtlil.convert(LfsrArray(4, [1, 2, 3]), emit_src=False)
    assert "$pmux" not in text and "$shift" not in text
