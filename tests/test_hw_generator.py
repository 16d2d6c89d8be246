"""The control semantics (docs/spec.md section 7) on the sequencer and on both generators.

`Reference` restates section 7 in word positions; every test runs the hardware in lockstep with it, one clock
cycle at a time, and checks `valid`, `done`, `last` and the payload (against the golden stream at the reference's
position) in every cycle.
"""
import random
from collections import Counter
from typing import NamedTuple

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from pezo.golden import OtfSpec, PoolSpec, Stream
from pezo.hw.generator import generator
from pezo.hw.sequencer import Sequencer


SPECS = [OtfSpec(generators=3, width=4, length_bits=4), OtfSpec(generators=7, width=5, seed=9),
         PoolSpec(size=15, bits=4, lanes=3, length_bits=4), PoolSpec(size=21, bits=6, seed=5)]


class Inputs(NamedTuple):
    length: int = 0
    next: bool = False
    replay: bool = False
    ready: bool = True
    rst: bool = False


class Reference:
    """Section 7 in word positions: perturbation `start`, words `consumed` of `length`, and the skip state."""

    def __init__(self):
        self.primed = self.skipping = False
        self.start = self.consumed = self.length = 0

    @property
    def emitting(self):
        return self.primed and not self.skipping

    @property
    def valid(self):
        return self.emitting and self.consumed < self.length

    @property
    def done(self):
        return self.emitting and self.consumed == self.length

    @property
    def last(self):
        return self.consumed == self.length - 1

    @property
    def position(self):
        """Position of the word on offer (while valid)."""
        return self.start + self.consumed

    def clock(self, inputs):
        if not self.primed or (inputs.replay and not self.skipping):
            self._begin(self.start, inputs.length)
        elif self.skipping and self.consumed == self.length:
            self._begin(self.start + self.length, inputs.length)
        elif self.skipping:
            self.consumed += 1
        else:
            self.consumed += self.valid and inputs.ready
            self.skipping = inputs.next

    def _begin(self, start, length):
        self.primed, self.skipping = True, False
        self.start, self.consumed, self.length = start, 0, length


EVENTS = ("transfer", "stall", "replay partial", "replay complete", "replay while skipping", "skip partial",
          "next when done", "next while skipping", "next with transfer", "reset in the middle", "empty perturbation",
          "wrap")


def events(ref, inputs, period):
    """Which of EVENTS this cycle covers (a reset cycle covers only the reset)."""
    partial = ref.emitting and 0 < ref.consumed < ref.length
    transfer = ref.valid and inputs.ready
    happened = {
        "transfer": transfer, "stall": ref.valid and not inputs.ready,
        "replay partial": inputs.replay and partial, "replay complete": inputs.replay and ref.done and ref.length > 0,
        "replay while skipping": inputs.replay and ref.skipping, "skip partial": inputs.next and partial,
        "next when done": inputs.next and ref.done, "next while skipping": inputs.next and ref.skipping,
        "next with transfer": inputs.next and transfer, "empty perturbation": ref.done and ref.length == 0,
        "wrap": transfer and ref.position >= period,
    }
    if inputs.rst:
        happened = {"reset in the middle": ref.position > 0}
    return [name for name, hit in happened.items() if hit]


class RandomDriver:
    """Random inputs: backpressure, replays and nexts (often once a perturbation is done), rare resets."""

    def __init__(self, seed, max_length):
        self.rng, self.max_length = random.Random(seed), max_length

    def __call__(self, ref):
        rng = self.rng
        busy = 0.3 if ref.done else 0.03
        length = 0 if rng.random() < 0.1 else rng.randint(1, self.max_length)
        return Inputs(length, rng.random() < busy, rng.random() < busy / 2, rng.random() < 0.7, rng.random() < 0.002)


class ZoDriver:
    """A ZO step per perturbation: emit it, replay it three times, then `next`; random backpressure."""

    def __init__(self, seed, length):
        self.rng, self.length, self.replays = random.Random(seed), length, 0

    def __call__(self, ref):
        replay = ref.done and self.replays < 3
        step_on = ref.done and not replay
        self.replays = 0 if step_on else self.replays + replay
        return Inputs(self.length, step_on, replay, self.rng.random() < 0.7)


def lockstep(dut, cycles, drive, check, period):
    """Run `dut` (a sequencer or a generator) against `Reference` for `cycles` cycles; returns the coverage.

    drive(ref) gives each cycle's inputs; check(ctx, ref, inputs) checks the cycle's outputs beyond valid and done.
    """
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.dut = dut
    stream = getattr(dut, "o", dut)
    coverage = Counter()

    async def testbench(ctx):
        ref = Reference()
        for cycle in range(cycles):
            inputs = drive(ref)
            for port, value in [(dut.length, inputs.length), (dut.next, inputs.next), (dut.replay, inputs.replay),
                                (stream.ready, inputs.ready), (sync.rst, inputs.rst)]:
                ctx.set(port, value)
            assert (ctx.get(stream.valid), ctx.get(dut.done)) == (ref.valid, ref.done), f"cycle {cycle}"
            check(ctx, ref, inputs)
            coverage.update(events(ref, inputs, period))
            if inputs.rst:
                ref = Reference()
            else:
                ref.clock(inputs)
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return coverage


def generator_check(spec, dut):
    """Payload check: decode the flat vector per docs/spec.md section 8, compare with the golden word."""
    mantissas, exponents = (array.numpy() for array in Stream(spec)(0, spec.period_words))
    lanes, bits, exp_bits = spec.lanes, spec.mantissa_bits, spec.exponent_bits

    def field(payload, offset, width):
        value = (payload >> offset) & ((1 << width) - 1)
        return value - (1 << width) if value >> (width - 1) else value

    def check(ctx, ref, inputs):
        if ref.valid:
            payload, word = ctx.get(dut.o.payload.as_value()), ref.position % spec.period_words
            assert [field(payload, lane * bits, bits) for lane in range(lanes)] == mantissas[word].tolist()
            assert field(payload, lanes * bits, exp_bits) == exponents[word]
            assert payload >> (lanes * bits + exp_bits) == ref.last
    return check


def sequencer_check(dut):
    """Strobe check: the position implied by advance/save/restore is the reference's; one strobe at a time."""
    state = {"position": 0, "start": 0}

    def check(ctx, ref, inputs):
        advance, save, restore = (ctx.get(getattr(dut.control, name)) for name in ("advance", "save", "restore"))
        if ref.primed and not ref.skipping and ref.consumed == 0:
            assert state["position"] == ref.start
        if ref.valid:
            assert state["position"] == ref.position and ctx.get(dut.last) == ref.last
        assert advance + save + restore <= 1
        if save:
            state["start"] = state["position"]
        state["position"] = state["start"] if restore else state["position"] + advance
        if inputs.rst:
            state.update(position=0, start=0)
    return check


def test_sequencer_random():
    dut = Sequencer(5)
    coverage = lockstep(dut, 6000, RandomDriver(seed=1, max_length=12), sequencer_check(dut), period=4)
    assert set(EVENTS) <= set(coverage)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_generator_random(spec):
    dut = generator(spec)
    driver = RandomDriver(seed=spec.period_words, max_length=min(15, (1 << spec.length_bits) - 1))
    coverage = lockstep(dut, 8000, driver, generator_check(spec, dut), spec.period_words)
    assert set(EVENTS) <= set(coverage)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_generator_zo_steps(spec):
    """Several perturbations in a row, each read four times; lengths that leave leftovers in the period."""
    dut = generator(spec)
    length = min(spec.period_words // 3 + 2, (1 << spec.length_bits) - 1)
    cycles = 6 * (6 * length + 10)
    coverage = lockstep(dut, cycles, ZoDriver(seed=7, length=length), generator_check(spec, dut), spec.period_words)
    assert coverage["next when done"] >= 5 and coverage["replay complete"] >= 15 and coverage["wrap"]


# One hand-derived run of docs/spec.md section 7 (pool of W = 5 words): inputs, then valid, position, last, done.
TIMELINE = [
    (Inputs(2), False, None, False, False),  # the memories fetch the first word
    (Inputs(2), True, 0, False, False),
    (Inputs(2), True, 1, True, False),
    (Inputs(2, replay=True), False, None, False, True),
    (Inputs(3), True, 0, False, False),  # the cycle after a replay
    (Inputs(3, ready=False), True, 1, True, False),  # backpressure
    (Inputs(3, next=True), True, 1, True, False),  # the last word transfers as next arrives
    (Inputs(3), False, None, False, False),  # nothing left to skip: perturbation 1 begins (start 2, length 3)
    (Inputs(3, next=True), True, 2, False, False),  # one word transfers, then two are skipped
    (Inputs(0), False, None, False, False),
    (Inputs(0), False, None, False, False),
    (Inputs(0), False, None, False, False),  # perturbation 2 begins (start 5, length 0)
    (Inputs(0, next=True), False, None, False, True),  # an empty perturbation is done at once
    (Inputs(1), False, None, False, False),  # perturbation 3 begins (start 5, length 1)
    (Inputs(1, rst=True), True, 5, True, False),  # two cycles after the next: word 5 = word 0 of the period
    (Inputs(1), False, None, False, False),  # after reset: fetch again
    (Inputs(1), True, 0, True, False),
    (Inputs(1), False, None, False, True),
]


def test_timeline():
    """The reference follows the hand-derived timeline, and the hardware follows the reference through it."""
    ref = Reference()
    for cycle, (inputs, *expected) in enumerate(TIMELINE):
        observed = [ref.valid, ref.position if ref.valid else None, ref.valid and ref.last, ref.done]
        assert observed == expected, f"cycle {cycle}"
        if inputs.rst:
            ref = Reference()
        else:
            ref.clock(inputs)
    spec = PoolSpec(size=15, bits=4, lanes=3)
    dut = generator(spec)
    rows = iter(TIMELINE)
    lockstep(dut, len(TIMELINE), lambda ref: next(rows)[0], generator_check(spec, dut), spec.period_words)
