"""The MeZO baseline Gaussian generator's datapath: `lanes` central-limit lanes (golden/gaussian.py)."""
from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.gaussian import LEAP, OFFSET, OUTPUT_BITS, STATE_BITS, UNIFORM_BITS, UNIFORMS, lane_seeds

from .replayable import Control, replayable


def leap(state):
    """One word's update of a lane: 48 fresh bits, bit k the XOR of state bits k + 15 and k + 14."""
    fresh = Cat(state[STATE_BITS - 1 - i] ^ state[STATE_BITS - 2 - i] for i in reversed(range(LEAP)))
    return Cat(fresh, state[:STATE_BITS - LEAP])


class GaussianLanes(wiring.Component):
    """Each lane: a 63-bit LFSR leaping 48 steps per word; its mantissa is the sum of the four 12-bit fields of
    its 48 freshest bits, minus 8190. All lanes move on together on `advance`.

    Ports: in `control`; out `mantissas` (lanes x signed(15), lane j in element j). Once elaborated, `registers`
    holds every lane's state register (and its shadow), for the formal proofs (sim/formal.py).
    Cost per lane: 63 FFs, 48 two-input XORs (the leap), and a three-adder tree of 12- to 14-bit operands; replay
    adds 63 shadow FFs and a 2:1 restore multiplexer per bit. With `replay=False` (Table 6's MeZO row, as the
    paper prices it) `save` and `restore` are ignored.
    """

    def __init__(self, lanes, seed=1, replay=True):
        self._seeds = lane_seeds(seed, lanes)
        self._replay = replay
        super().__init__({"control": In(Control),
                          "mantissas": Out(data.ArrayLayout(signed(OUTPUT_BITS), lanes))})

    def elaborate(self, platform):
        m = Module()
        self.registers = []
        for lane, seed in enumerate(self._seeds):
            if self._replay:
                register = replayable(m, self.control, STATE_BITS, seed, leap, f"lane{lane}")
                state = register.value
                self.registers += [register.value, register.shadow]
            else:
                state = Signal(STATE_BITS, init=seed, name=f"lane{lane}")
                with m.If(self.control.advance):
                    m.d.sync += state.eq(leap(state))
                self.registers.append(state)
            fields = [state[UNIFORM_BITS * k:UNIFORM_BITS * (k + 1)] for k in range(UNIFORMS)]
            m.d.comb += self.mantissas[lane].eq((fields[0] + fields[1]) + (fields[2] + fields[3]) - OFFSET)
        return m
