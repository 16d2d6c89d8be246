"""The MeZO baseline Gaussian generator in hardware: `lanes` central-limit lanes (golden/gaussian.py)."""
from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import Out

from pezo.golden.gaussian import LEAP, OFFSET, OUTPUT_BITS, STATE_BITS, UNIFORM_BITS, UNIFORMS, lane_seeds


class GaussianLanes(wiring.Component):
    """Each lane: a 63-bit LFSR leaping 48 steps per word; its output is the sum of the four 12-bit fields of
    its 48 freshest bits, minus 8190. All lanes move on together when a word transfers.

    Ports: out `o`, a stream of `lanes` x signed(15) (valid always high); the clock domain adds [clk, rst].
    Cost per lane: 63 FFs, 48 two-input XORs (the leap), and a three-adder tree of 12- to 14-bit operands.
    """

    def __init__(self, lanes, seed=1):
        self._seeds = lane_seeds(seed, lanes)
        super().__init__({"o": Out(stream.Signature(data.ArrayLayout(signed(OUTPUT_BITS), lanes)))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.valid.eq(1)
        for lane, seed in enumerate(self._seeds):
            state = Signal(STATE_BITS, init=seed, name=f"lane{lane}")
            fresh = Cat(state[STATE_BITS - 1 - i] ^ state[STATE_BITS - 2 - i] for i in reversed(range(LEAP)))
            with m.If(self.o.ready):
                m.d.sync += state.eq(Cat(fresh, state[:STATE_BITS - LEAP]))
            fields = [state[UNIFORM_BITS * k:UNIFORM_BITS * (k + 1)] for k in range(UNIFORMS)]
            m.d.comb += self.o.payload[lane].eq((fields[0] + fields[1]) + (fields[2] + fields[3]) - OFFSET)
        return m
