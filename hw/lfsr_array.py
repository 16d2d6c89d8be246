"""The rotating array of Fibonacci LFSRs (docs/spec.md sections 3 and 4)."""
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.lfsr import feedback_mask, jump

from .replayable import Control, replayable


def lfsr_step(state, width, steps=1):
    """`steps` generator updates. One: shift towards the MSB, shifting in the parity of the tapped bits (one LUT).
    More: the GF(2)-linear map step^steps, each bit the parity of the state bits it depends on (about one LUT per
    bit for steps <= width, two for wider parities)."""
    if steps == 1:
        return Cat((state & feedback_mask(width)).xor(), state[:-1])
    return linear_map(state, jump(width, steps))


def linear_map(state, columns):
    """The GF(2)-linear map whose image of bit i is columns[i], applied to a signal: output bit o is the parity of
    the state bits i whose column has bit o set."""
    rows = [sum(((column >> o) & 1) << i for i, column in enumerate(columns)) for o in range(len(columns))]
    return Cat((state & row).xor() for row in rows)


class LfsrArray(wiring.Component):
    """n registers of `width` bits; register j starts at seeds[j] and on advance becomes step^leap(register j + 1
    mod n).

    The rotation is wiring between neighbours: no register ever selects among several sources except the shadow.
    Ports: in `control`; out `states` (n x width, register j in element j). Once elaborated, `registers` holds
    the state registers (and their shadow), for the formal proofs (sim/formal.py).
    Cost: n * width FFs and n LUTs (feedback XORs) for the array, about n * width with a leap above 1; replay adds
    n * width shadow FFs and a 2:1 restore multiplexer per bit. With `replay=False` (for cost comparisons) `save`
    and `restore` are ignored.
    """

    def __init__(self, width, seeds, replay=True, leap=1):
        self._width = width
        self._seeds = list(seeds)
        self._replay = replay
        self._leap = leap
        super().__init__({
            "control": In(Control),
            "states": Out(data.ArrayLayout(unsigned(width), len(self._seeds))),
        })

    def _rotate_and_step(self, states):
        count = len(self._seeds)
        return Cat(lfsr_step(states[(j + 1) % count], self._width, self._leap) for j in range(count))

    def elaborate(self, platform):
        m = Module()
        if self._replay:
            register = replayable(m, self.control, self.states.shape(), self._seeds, self._rotate_and_step,
                                  "lanes")
            states, self.registers = register.value, [register.value, register.shadow]
        else:
            states = Signal(self.states.shape(), init=self._seeds, name="lanes")
            with m.If(self.control.advance):
                m.d.sync += states.eq(self._rotate_and_step(states))
            self.registers = [states]
        m.d.comb += self.states.eq(states)
        return m
