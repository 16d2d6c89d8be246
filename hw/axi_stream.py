"""A generator as an AXI4-Stream master, with the interfaces Vivado IP Integrator reads from its ports."""
import collections

from amaranth.hdl import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .generator import generator
from .payload import payload_layout

CLOCK_HZ = 100_000_000
"""The default clock frequency the IP declares (FREQ_HZ): IP Integrator checks it against the clock it is given."""

Interface = collections.namedtuple("Interface", "name bus mode ports parameters")
"""One interface of the wrapper: its `name`, the `bus` definition (vendor, library, name, version; the abstraction
is the same name with `_rtl`), its `mode` (master or slave), `ports` {logical port: Verilog port} and `parameters`."""


def tdata_bits(spec):
    """Width of m_axis_tdata: the payload without `last` (mantissas, then exponent), padded to whole bytes."""
    return -(-(payload_layout(spec).size - 1) // 8) * 8


def interfaces(spec, clock_hz=CLOCK_HZ):
    """The wrapper's interfaces as Vivado names them: the AXI4-Stream master, its clock and its reset."""
    return [
        Interface("M_AXIS", ("xilinx.com", "interface", "axis", "1.0"), "master",
                  {"TDATA": "m_axis_tdata", "TVALID": "m_axis_tvalid", "TREADY": "m_axis_tready",
                   "TLAST": "m_axis_tlast"},
                  {"TDATA_NUM_BYTES": tdata_bits(spec) // 8, "TDEST_WIDTH": 0, "TID_WIDTH": 0, "TUSER_WIDTH": 0,
                   "HAS_TREADY": 1, "HAS_TSTRB": 0, "HAS_TKEEP": 0, "HAS_TLAST": 1, "FREQ_HZ": clock_hz}),
        Interface("aclk", ("xilinx.com", "signal", "clock", "1.0"), "slave", {"CLK": "aclk"},
                  {"ASSOCIATED_BUSIF": "M_AXIS", "ASSOCIATED_RESET": "aresetn", "FREQ_HZ": clock_hz}),
        Interface("aresetn", ("xilinx.com", "signal", "reset", "1.0"), "slave", {"RST": "aresetn"},
                  {"POLARITY": "ACTIVE_LOW"}),
    ]


def axi_signature(spec):
    """The wrapper's ports (see AxiStreamGenerator)."""
    return wiring.Signature({
        "aclk": In(1), "aresetn": In(1),
        "m_axis_tdata": Out(tdata_bits(spec)), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
        "m_axis_tlast": Out(1),
        "length": In(spec.length_bits), "next": In(1), "replay": In(1), "done": Out(1), "busy": Out(1),
    })


class AxiStreamGenerator(wiring.Component):
    """The generator of `spec` behind AXI4-Stream names; one perturbation is one packet (tlast on its last word).

    Ports: in `aclk`, `aresetn` (active low, synchronous); out `m_axis_tdata` (lane j's mantissa at bit j*M, the
    exponent above the lanes, zero padding), `m_axis_tvalid`, `m_axis_tlast`, in `m_axis_tready`; the generator's
    controls in `length`, `next`, `replay` and status out `done`, `busy` (docs/spec.md section 7).
    The ports of `interfaces` carry Vivado's X_INTERFACE_INFO attribute, and the first port of each interface its
    X_INTERFACE_PARAMETER (FREQ_HZ = `clock_hz`), so IP Integrator infers them without guessing.
    Cost: the generator's alone (wiring and one inverter).
    """

    def __init__(self, spec, clock_hz=CLOCK_HZ):
        self.spec = spec
        super().__init__(axi_signature(spec))
        for interface in interfaces(spec, clock_hz):
            bus = ":".join(interface.bus)
            for index, (logical, port) in enumerate(interface.ports.items()):
                attrs = getattr(self, port).attrs
                attrs["X_INTERFACE_INFO"] = f"{bus} {interface.name} {logical}"
                if index == 0:
                    attrs["X_INTERFACE_PARAMETER"] = ", ".join(
                        [f"XIL_INTERFACENAME {interface.name}"] +
                        [f"{key} {value}" for key, value in interface.parameters.items()])

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
