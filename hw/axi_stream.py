"""A generator as an AXI4-Stream master, with the port names Vivado IP Integrator infers interfaces from."""
from amaranth.hdl import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .generator import generator
from .payload import payload_layout


def tdata_bits(spec):
    """Width of m_axis_tdata: the payload without `last` (mantissas, then exponent), padded to whole bytes."""
    return -(-(payload_layout(spec).size - 1) // 8) * 8


class AxiStreamGenerator(wiring.Component):
    """The generator of `spec` behind AXI4-Stream names; one perturbation is one packet (tlast on its last word).

    Ports: in `aclk`, `aresetn` (active low, synchronous); out `m_axis_tdata` (lane j's mantissa at bit j*M, the
    exponent above the lanes, zero padding), `m_axis_tvalid`, `m_axis_tlast`, in `m_axis_tready`; the generator's
    controls in `length`, `next`, `replay` and status out `done`, `busy` (docs/spec.md section 7).
    Cost: the generator's alone (wiring and one inverter).
    """

    def __init__(self, spec):
        self.spec = spec
        super().__init__({
            "aclk": In(1), "aresetn": In(1),
            "m_axis_tdata": Out(tdata_bits(spec)), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
            "length": In(spec.length_bits), "next": In(1), "replay": In(1), "done": Out(1), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = domain = ClockDomain("sync", local=True)
        m.submodules.dut = dut = generator(self.spec)
        payload = dut.o.payload
        m.d.comb += [
            domain.clk.eq(self.aclk), domain.rst.eq(~self.aresetn),
            self.m_axis_tdata.eq(payload.as_value()[:len(payload.as_value()) - 1]),
            self.m_axis_tlast.eq(payload.last), self.m_axis_tvalid.eq(dut.o.valid), dut.o.ready.eq(self.m_axis_tready),
            dut.length.eq(self.length), dut.next.eq(self.next), dut.replay.eq(self.replay),
            self.done.eq(dut.done), self.busy.eq(dut.busy),
        ]
        return m
