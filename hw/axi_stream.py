"""AXI wrappers of a generator and of the ZO engine: AXI4-Stream data, an AXI4-Lite register block for the
processor (host/registers.py), and the interfaces Vivado IP Integrator reads from their ports."""
import collections

from amaranth.hdl import ClockDomain, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pezo.host.registers import ADDRESS_BITS, engine_registers, generator_registers

from .axi_lite import BUS, RegisterBlock
from .engine import Engine, weights_layout
from .export import check_engine
from .generator import generator
from .payload import payload_layout

CLOCK_HZ = 100_000_000
"""The default clock frequency the IP declares (FREQ_HZ): IP Integrator checks it against the clock it is given."""

Interface = collections.namedtuple("Interface", "name bus mode ports parameters registers", defaults=(None,))
"""One interface of a wrapper: its `name`, the `bus` definition (vendor, library, name, version; the abstraction
is the same name with `_rtl`), its `mode` (master or slave), `ports` {logical port: Verilog port}, `parameters`
and, for a register interface, its `registers` (host/registers.py)."""
AXIS = ("xilinx.com", "interface", "axis", "1.0")
AXIMM = ("xilinx.com", "interface", "aximm", "1.0")
CONTROL = "s_axi_ctrl"
"""The prefix of the AXI4-Lite register interface's ports."""


def whole_bytes(bits):
    return -(-bits // 8) * 8


def tdata_bits(spec):
    """Width of a generator's m_axis_tdata: the payload without `last` (mantissas, then exponent), padded to whole
    bytes."""
    return whole_bytes(payload_layout(spec).size - 1)


def stream_interface(name, mode, prefix, tdata, clock_hz):
    """An AXI4-Stream interface `name` on the ports `<prefix>_tdata` (`tdata` bits), `_tvalid`, `_tready` and
    `_tlast` (every stream of pezo's IP is packets)."""
    ports = {"TDATA": f"{prefix}_tdata", "TVALID": f"{prefix}_tvalid", "TREADY": f"{prefix}_tready",
             "TLAST": f"{prefix}_tlast"}
    return Interface(name, AXIS, mode, ports,
                     {"TDATA_NUM_BYTES": tdata // 8, "TDEST_WIDTH": 0, "TID_WIDTH": 0, "TUSER_WIDTH": 0,
                      "HAS_TREADY": 1, "HAS_TSTRB": 0, "HAS_TKEEP": 0, "HAS_TLAST": 1, "FREQ_HZ": clock_hz})


def register_interface(registers, clock_hz):
    """The AXI4-Lite slave S_AXI_CTRL on the ports `s_axi_ctrl_<awaddr ...>`, holding `registers`."""
    ports = {name.upper(): f"{CONTROL}_{name}" for name in BUS}
    return Interface(CONTROL.upper(), AXIMM, "slave", ports, {
        "PROTOCOL": "AXI4LITE", "DATA_WIDTH": 32, "ADDR_WIDTH": ADDRESS_BITS, "FREQ_HZ": clock_hz, "ID_WIDTH": 0,
        "READ_WRITE_MODE": "READ_WRITE", "HAS_BURST": 0, "HAS_LOCK": 0, "HAS_PROT": 0, "HAS_CACHE": 0, "HAS_QOS": 0,
        "HAS_REGION": 0, "HAS_WSTRB": 1, "HAS_BRESP": 1, "HAS_RRESP": 1, "SUPPORTS_NARROW_BURST": 0,
        "NUM_READ_OUTSTANDING": 1, "NUM_WRITE_OUTSTANDING": 1, "MAX_BURST_LENGTH": 1}, registers)


def clock_and_reset(buses, clock_hz):
    """The `aclk` clock and `aresetn` reset interfaces, associated with the interfaces `buses`."""
    return [
        Interface("aclk", ("xilinx.com", "signal", "clock", "1.0"), "slave", {"CLK": "aclk"},
                  {"ASSOCIATED_BUSIF": ":".join(bus.name for bus in buses), "ASSOCIATED_RESET": "aresetn",
                   "FREQ_HZ": clock_hz}),
        Interface("aresetn", ("xilinx.com", "signal", "reset", "1.0"), "slave", {"RST": "aresetn"},
                  {"POLARITY": "ACTIVE_LOW"}),
    ]


def weights_bits(spec, fmt):
    """Width of the engine's tdata: `spec.lanes` weights of format `fmt` (whole bytes: 16 or 32 bits each)."""
    return whole_bytes(weights_layout(fmt, spec.lanes).size)


def registers(spec, engine=None):
    """The register map of the generator's wrapper of `spec`, or of the engine's with `engine`."""
    if engine is None:
        return generator_registers(spec.lanes, spec.length_bits, spec.hop_bits)
    return engine_registers(spec.lanes, engine, spec.length_bits, spec.hop_bits)


def interfaces(spec, engine=None, clock_hz=CLOCK_HZ):
    """The interfaces of the generator's wrapper of `spec`, or of the engine's with `engine` ("fp32", "bf16")."""
    if engine is None:
        streams = [stream_interface("M_AXIS", "master", "m_axis", tdata_bits(spec), clock_hz)]
    else:
        bits = weights_bits(spec, engine)
        streams = [stream_interface("S_AXIS_WEIGHTS", "slave", "s_axis_weights", bits, clock_hz),
                   stream_interface("M_AXIS_PERTURBED", "master", "m_axis_perturbed", bits, clock_hz),
                   stream_interface("M_AXIS_UPDATED", "master", "m_axis_updated", bits, clock_hz)]
    buses = streams + [register_interface(registers(spec, engine), clock_hz)]
    return buses + clock_and_reset(buses, clock_hz)


def interface_ports(interface):
    """Signature members of an interface's ports: AXI4-Stream (tready flows back) or AXI4-Lite (as hw/axi_lite.py's
    BUS)."""
    if interface.bus == AXIMM:
        return {port: BUS[logical.lower()] for logical, port in interface.ports.items()}
    flow, back = (Out, In) if interface.mode == "master" else (In, Out)
    widths = {"TDATA": interface.parameters["TDATA_NUM_BYTES"] * 8}
    return {port: (back if logical == "TREADY" else flow)(widths.get(logical, 1))
            for logical, port in interface.ports.items()}


class AxiWrapper(wiring.Component):
    """A component whose ports are named for AXI: those of its stream and register `interfaces`, `aclk`, `aresetn`
    and the `passed` members (passed through from the wrapped block). The ports of `interfaces` carry Vivado's
    X_INTERFACE_INFO attribute, and the first port of each interface its X_INTERFACE_PARAMETER, so IP Integrator
    infers them without guessing. `aresetn` is active low and synchronous. `description` names what it is."""

    def __init__(self, passed, interfaces, description):
        self.interfaces, self.description, self.passed = interfaces, description, passed
        members = {"aclk": In(1), "aresetn": In(1)}
        for interface in interfaces:
            if interface.bus in (AXIS, AXIMM):
                members.update(interface_ports(interface))
        super().__init__(wiring.Signature({**members, **passed}))
        for interface in interfaces:
            bus = ":".join(interface.bus)
            for index, (logical, port) in enumerate(interface.ports.items()):
                attrs = getattr(self, port).attrs
                attrs["X_INTERFACE_INFO"] = f"{bus} {interface.name} {logical}"
                if index == 0:
                    attrs["X_INTERFACE_PARAMETER"] = ", ".join(
                        [f"XIL_INTERFACENAME {interface.name}"] +
                        [f"{key} {value}" for key, value in interface.parameters.items()])

    def streams(self):
        """{interface name: tdata bits} of the stream interfaces."""
        return {i.name: i.parameters["TDATA_NUM_BYTES"] * 8 for i in self.interfaces if i.bus == AXIS}

    def clock(self, m):
        m.domains.sync = domain = ClockDomain("sync", local=True)
        m.d.comb += [domain.clk.eq(self.aclk), domain.rst.eq(~self.aresetn)]

    def register_block(self, m):
        """The register block of the wrapper's S_AXI_CTRL, its bus wired to the ports."""
        interface, = (i for i in self.interfaces if i.bus == AXIMM)
        m.submodules.registers = block = RegisterBlock(interface.registers)
        for logical, port in interface.ports.items():
            ours, theirs = getattr(self, port), getattr(block, logical.lower())
            m.d.comb += theirs.eq(ours) if BUS[logical.lower()].flow == In else ours.eq(theirs)
        return block


class AxiStreamGenerator(AxiWrapper):
    """The generator of `spec` as an AXI4-Stream master; one perturbation is one packet (tlast on its last word).

    Ports: in `aclk`, `aresetn`; out `m_axis_tdata` (lane j's mantissa at bit j*M, the exponent above the lanes,
    zero padding), `m_axis_tvalid`, `m_axis_tlast`, in `m_axis_tready`; the registers on `s_axi_ctrl_*` (LENGTH,
    HOP, the COMMAND register's next and replay, STATUS, PACKETS: host/registers.py); the `next` and `replay`
    inputs for logic beside it (or-ed with the commands) and its `done` and `busy` (docs/spec.md section 7).
    Cost: the generator's, the register block's and a 32-bit packet counter.
    """

    def __init__(self, spec, clock_hz=CLOCK_HZ):
        self.spec = spec
        super().__init__(
            {"next": In(1), "replay": In(1), "done": Out(1), "busy": Out(1)}, interfaces(spec, None, clock_hz),
            f"PeZO perturbation generator {spec.to_json()} as an AXI4-Stream master (one perturbation per packet), "
            "controlled by AXI4-Lite registers")

    def elaborate(self, platform):
        m = Module()
        self.clock(m)
        m.submodules.dut = dut = generator(self.spec)
        registers = self.register_block(m)
        payload = dut.o.payload
        m.d.comb += [
            self.m_axis_tdata.eq(payload.as_value()[:len(payload.as_value()) - 1]),
            self.m_axis_tlast.eq(payload.last), self.m_axis_tvalid.eq(dut.o.valid), dut.o.ready.eq(self.m_axis_tready),
            dut.length.eq(registers.length), dut.next.eq(self.next | registers.next),
            dut.replay.eq(self.replay | registers.replay | registers.length_written),
            self.done.eq(dut.done), self.busy.eq(dut.busy), registers.done.eq(dut.done), registers.busy.eq(dut.busy),
        ]
        if self.spec.hop_bits:
            m.d.comb += dut.hop.eq(registers.hop)
        with m.If(dut.o.valid & dut.o.ready & payload.last):
            m.d.sync += registers.packets.eq(registers.packets + 1)
        return m


class AxiStreamEngine(AxiWrapper):
    """The ZO engine (hw/engine.py) of `spec` with `fmt` weights behind AXI names.

    Ports: in `aclk`, `aresetn`; the weights in on the slave `s_axis_weights`, one pass per packet; the perturbed
    weights out on the master `m_axis_perturbed` and the updated weights on `m_axis_updated`, each with tlast on a
    pass's last beat (lane j of every beat at bit j*F, F = 32 for fp32, 16 for bf16); the registers on
    `s_axi_ctrl_*` (MODE, E, C, D, LENGTH, HOP, STATUS, PASSES, ERRORS: host/registers.py, docs/spec.md sections
    11 and 12). A weight beat whose tlast disagrees with the pass's length (tlast before the last beat, or missing
    on it) sets STATUS.length_error and counts in ERRORS; the pass itself goes on by LENGTH.
    Cost: the engine's, the register block's, two 32-bit counters, and one LUT per tdata bit and tlast that zeroes
    m_axis_updated between its beats (allowed by AXI4-Stream): the two masters' data would otherwise be one net,
    and Amaranth would then give both the same X_INTERFACE_INFO attributes.
    """

    def __init__(self, spec, fmt, clock_hz=CLOCK_HZ):
        self.spec, self.fmt = spec, check_engine(fmt)
        super().__init__(
            {}, interfaces(spec, fmt, clock_hz),
            f"PeZO ZO engine with {fmt} weights around the generator {spec.to_json()}, AXI4-Stream weights in, "
            "perturbed and updated weights out, controlled by AXI4-Lite registers")

    def elaborate(self, platform):
        m = Module()
        self.clock(m)
        m.submodules.engine = engine = Engine(self.spec, self.fmt)
        registers = self.register_block(m)
        m.d.comb += [engine.w.payload.eq(self.s_axis_weights_tdata), engine.w.valid.eq(self.s_axis_weights_tvalid),
                     self.s_axis_weights_tready.eq(engine.w.ready)]
        perturbed, updated = engine.perturbed, engine.updated
        m.d.comb += [self.m_axis_perturbed_tdata.eq(perturbed.payload.values),
                     self.m_axis_perturbed_tlast.eq(perturbed.payload.last),
                     self.m_axis_perturbed_tvalid.eq(perturbed.valid), perturbed.ready.eq(self.m_axis_perturbed_tready),
                     self.m_axis_updated_tdata.eq(Mux(updated.valid, updated.payload.values, 0)),
                     self.m_axis_updated_tlast.eq(updated.payload.last & updated.valid),
                     self.m_axis_updated_tvalid.eq(updated.valid), updated.ready.eq(self.m_axis_updated_tready)]
        m.d.comb += [engine.mode.eq(registers.mode), engine.e.eq(registers.e), engine.c.eq(registers.c),
                     engine.d.eq(registers.d), engine.length.eq(registers.length), registers.busy.eq(engine.busy),
                     engine.restart.eq(registers.length_written)]
        if self.spec.hop_bits:
            m.d.comb += engine.hop.eq(registers.hop)

        wrong = Signal()
        m.d.comb += [wrong.eq(engine.w.valid & engine.w.ready & (self.s_axis_weights_tlast != engine.w_last)),
                     registers.set_length_error.eq(wrong)]
        with m.If(wrong):
            m.d.sync += registers.errors.eq(registers.errors + 1)
        taken = (perturbed.valid & perturbed.ready) | (updated.valid & updated.ready)
        with m.If(taken & perturbed.payload.last):              # one output, offered on the stream of its mode
            m.d.sync += registers.passes.eq(registers.passes + 1)
        return m
