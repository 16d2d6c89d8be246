"""Adaptive modulus scaling in hardware: the exponent of every otf word (docs/spec.md section 5)."""
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from pezo.golden.otf import exponent_table

from .lfsr_array import lfsr_step
from .replayable import Control, replayable


class Scaler(wiring.Component):
    """A reference register that follows generator 0 (starts at the seed, takes `leap` steps a word with the
    array) addresses the exponent table, a ROM of 2^b entries holding exponent - k_min.

    The ROM's synchronous, non-transparent read port is addressed by the register's next value, so its data
    matches the register in every cycle but the first after reset.
    Ports: in `control`; out `exponent` (signed, `spec.exponent_bits` wide). Once elaborated, `registers` holds
    the reference register and its shadow, for the formal proofs (sim/formal.py).
    Cost: 2b FFs (register and shadow), about b LUTs, and a 2^b x offset_bits ROM (BRAM).
    """

    def __init__(self, spec):
        self._spec = spec
        super().__init__({"control": In(Control), "exponent": Out(signed(spec.exponent_bits))})

    def elaborate(self, platform):
        m = Module()
        width, table = self._spec.width, exponent_table(self._spec)
        reference = replayable(m, self.control, unsigned(width), self._spec.seed,
                               lambda state: lfsr_step(state, width, self._spec.leap), "reference")
        self.registers, address = [reference.value, reference.shadow], reference.following
        m.submodules.table = rom = Memory(shape=unsigned(table.offset_bits), depth=1 << width,
                                          init=table.offsets.tolist())
        port = rom.read_port(transparent_for=())
        m.d.comb += [port.addr.eq(address), self.exponent.eq(port.data + table.low)]
        return m
