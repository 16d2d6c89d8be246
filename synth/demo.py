"""A board demonstrator: a generator runs continuously, its words fold into a checksum shown on the LEDs.

Every payload bit reaches the LEDs, so Vivado keeps all of the generator, and a board shows a live pattern.
"""
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io

from pezo.hw.generator import generator


class Demonstrator(Elaboratable):
    """The generator (submodule `dut`, as in the simulation harness, so a SAIF from `pezo sim --saif` maps onto
    it) emits perturbations of `length` words with ready always high; each finished perturbation is replayed
    once, then the next one starts (the ZO pattern). Each transferred payload is XORed into a rotating checksum;
    every 2^`hold_bits` cycles the LEDs latch the checksum folded to 8 bits (about 1 s at 125 MHz for 27).

    Cost: the generator, one payload-wide checksum register, a hold_bits counter, 9 FFs for LEDs and toggle.
    """

    def __init__(self, spec, length=4096, hold_bits=27):
        if not 1 <= length < 1 << spec.length_bits:
            raise ValueError(f"length={length} is out of range: allowed 1..{(1 << spec.length_bits) - 1}")
        self.spec, self.length, self.hold_bits = spec, length, hold_bits

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = generator(self.spec)
        width = len(dut.o.payload.as_value())
        checksum, hold, replayed = Signal(width), Signal(self.hold_bits), Signal()
        folded = Signal(8)
        m.d.comb += [dut.length.eq(self.length), dut.o.ready.eq(1), folded.eq(_xor_fold(checksum, 8))]
        with m.If(dut.o.valid):
            m.d.sync += checksum.eq(checksum.rotate_left(1) ^ dut.o.payload.as_value())
        with m.If(dut.done):
            m.d.comb += [dut.replay.eq(~replayed), dut.next.eq(replayed)]
            m.d.sync += replayed.eq(~replayed)
        m.d.sync += hold.eq(hold + 1)
        for index in range(8 if platform is not None else 0):
            m.submodules[f"led{index}"] = led = io.Buffer("o", platform.request("led", index, dir="-"))
            with m.If(hold == 0):
                m.d.sync += led.o.eq(folded[index])
        return m


def _xor_fold(value, width):
    """XOR of the `width`-bit slices of value (the last one zero-padded)."""
    out = value[:width]
    for offset in range(width, len(value), width):
        out = out ^ value[offset:offset + width]
    return out
