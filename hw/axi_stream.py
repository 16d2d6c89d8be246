"""AXI4-Stream wrappers of a generator and of the ZO engine, with the interfaces Vivado IP Integrator reads from
their ports."""
import collections

from amaranth.hdl import ClockDomain, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .engine import Engine, engine_signature, weights_layout
from .generator import generator, generator_signature
from .payload import payload_layout

CLOCK_HZ = 100_000_000
"""The default clock frequency the IP declares (FREQ_HZ): IP Integrator checks it against the clock it is given."""

Interface = collections.namedtuple("Interface", "name bus mode ports parameters")
"""One interface of a wrapper: its `name`, the `bus` definition (vendor, library, name, version; the abstraction
is the same name with `_rtl`), its `mode` (master or slave), `ports` {logical port: Verilog port} and `parameters`."""
AXIS = ("xilinx.com", "interface", "axis", "1.0")


def whole_bytes(bits):
    return -(-bits // 8) * 8


def tdata_bits(spec):
    """Width of a generator's m_axis_tdata: the payload without `last` (mantissas, then exponent), padded to whole
    bytes."""
    return whole_bytes(payload_layout(spec).size - 1)


def stream_interface(name, mode, prefix, tdata, tlast, clock_hz):
    """An AXI4-Stream interface `name` on the ports `<prefix>_tdata` (`tdata` bits), `_tvalid`, `_tready` and, with
    `tlast`, `_tlast`."""
    ports = {"TDATA": f"{prefix}_tdata", "TVALID": f"{prefix}_tvalid", "TREADY": f"{prefix}_tready"}
    ports.update({"TLAST": f"{prefix}_tlast"} if tlast else {})
    return Interface(name, AXIS, mode, ports,
                     {"TDATA_NUM_BYTES": tdata // 8, "TDEST_WIDTH": 0, "TID_WIDTH": 0, "TUSER_WIDTH": 0,
                      "HAS_TREADY": 1, "HAS_TSTRB": 0, "HAS_TKEEP": 0, "HAS_TLAST": int(tlast), "FREQ_HZ": clock_hz})


def clock_and_reset(streams, clock_hz):
    """The `aclk` clock and `aresetn` reset interfaces, associated with the stream interfaces `streams`."""
    return [
        Interface("aclk", ("xilinx.com", "signal", "clock", "1.0"), "slave", {"CLK": "aclk"},
                  {"ASSOCIATED_BUSIF": ":".join(stream.name for stream in streams), "ASSOCIATED_RESET": "aresetn",
                   "FREQ_HZ": clock_hz}),
        Interface("aresetn", ("xilinx.com", "signal", "reset", "1.0"), "slave", {"RST": "aresetn"},
                  {"POLARITY": "ACTIVE_LOW"}),
    ]


def weights_bits(spec, fmt):
    """Width of the engine's tdata: `spec.lanes` weights of format `fmt` (whole bytes: 16 or 32 bits each)."""
    return whole_bytes(weights_layout(fmt, spec.lanes).size)


def interfaces(spec, engine=None, clock_hz=CLOCK_HZ):
    """The interfaces of the generator's wrapper of `spec`, or of the engine's with `engine` ("fp32", "bf16")."""
    if engine is None:
        streams = [stream_interface("M_AXIS", "master", "m_axis", tdata_bits(spec), True, clock_hz)]
    else:
        bits = weights_bits(spec, engine)
        streams = [stream_interface("S_AXIS_WEIGHTS", "slave", "s_axis_weights", bits, False, clock_hz),
                   stream_interface("M_AXIS_PERTURBED", "master", "m_axis_perturbed", bits, True, clock_hz),
                   stream_interface("M_AXIS_UPDATED", "master", "m_axis_updated", bits, True, clock_hz)]
    return streams + clock_and_reset(streams, clock_hz)


def stream_ports(interface):
    """Signature members of the ports of an AXI4-Stream interface (tready flows back)."""
    flow, back = (Out, In) if interface.mode == "master" else (In, Out)
    widths = {"TDATA": interface.parameters["TDATA_NUM_BYTES"] * 8}
    return {port: (back if logical == "TREADY" else flow)(widths.get(logical, 1))
            for logical, port in interface.ports.items()}


def controls(signature, streams):
    """The members of a wrapped block's signature other than its streams: ports the wrapper passes through."""
    return {name: member for name, member in signature.members.items() if name not in streams}


class AxiWrapper(wiring.Component):
    """A component whose ports are named for AXI4-Stream: those of its stream `interfaces`, `aclk`, `aresetn` and
    the `passed` members (passed through from the wrapped block). The ports of `interfaces` carry Vivado's
    X_INTERFACE_INFO attribute, and the first port of each interface its X_INTERFACE_PARAMETER, so IP Integrator
    infers them without guessing. `aresetn` is active low and synchronous. `description` names what it is."""

    def __init__(self, passed, interfaces, description):
        self.interfaces, self.description, self.passed = interfaces, description, passed
        members = {"aclk": In(1), "aresetn": In(1)}
        for interface in interfaces:
            if interface.bus == AXIS:
                members.update(stream_ports(interface))
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

    def pass_through(self, m, block):
        """Connect the `passed` members of `block` to the wrapper's ports of the same names."""
        for name, member in self.passed.items():
            ours, theirs = getattr(self, name), getattr(block, name)
            m.d.comb += theirs.eq(ours) if member.flow == In else ours.eq(theirs)


class AxiStreamGenerator(AxiWrapper):
    """The generator of `spec` as an AXI4-Stream master; one perturbation is one packet (tlast on its last word).

    Ports: in `aclk`, `aresetn`; out `m_axis_tdata` (lane j's mantissa at bit j*M, the exponent above the lanes,
    zero padding), `m_axis_tvalid`, `m_axis_tlast`, in `m_axis_tready`; the generator's controls in `length`,
    `next`, `replay` and status out `done`, `busy` (docs/spec.md section 7).
    Cost: the generator's alone (wiring and one inverter).
    """

    def __init__(self, spec, clock_hz=CLOCK_HZ):
        self.spec = spec
        super().__init__(
            controls(generator_signature(spec), ("o",)), interfaces(spec, None, clock_hz),
            f"PeZO perturbation generator {spec.to_json()} as an AXI4-Stream master (one perturbation per packet)")

    def elaborate(self, platform):
        m = Module()
        self.clock(m)
        m.submodules.dut = dut = generator(self.spec)
        payload = dut.o.payload
        m.d.comb += [
            self.m_axis_tdata.eq(payload.as_value()[:len(payload.as_value()) - 1]),
            self.m_axis_tlast.eq(payload.last), self.m_axis_tvalid.eq(dut.o.valid), dut.o.ready.eq(self.m_axis_tready),
        ]
        self.pass_through(m, dut)
        return m


class AxiStreamEngine(AxiWrapper):
    """The ZO engine (hw/engine.py) of `spec` with `fmt` weights behind AXI4-Stream names.

    Ports: in `aclk`, `aresetn`; the weights in on the slave `s_axis_weights` (no tlast: the generator's length
    ends a pass); the perturbed weights out on the master `m_axis_perturbed` and the updated weights on
    `m_axis_updated`, each with tlast on a pass's last beat (lane j of every beat at bit j*F, F = 32 for fp32, 16
    for bf16); the engine's `mode`, `e`, `c`, `d`, `length` in and `busy` out (docs/spec.md section 11).
    Cost: the engine's, and one LUT per tdata bit and tlast that zeroes m_axis_updated between its beats (allowed
    by AXI4-Stream): the two masters' data would otherwise be one net, and Amaranth would then give both the same
    X_INTERFACE_INFO attributes.
    """

    def __init__(self, spec, fmt, clock_hz=CLOCK_HZ):
        self.spec, self.fmt = spec, fmt
        super().__init__(
            controls(engine_signature(spec, fmt), ("w", "perturbed", "updated")), interfaces(spec, fmt, clock_hz),
            f"PeZO ZO engine with {fmt} weights around the generator {spec.to_json()}, AXI4-Stream weights in, "
            "perturbed and updated weights out")

    def elaborate(self, platform):
        m = Module()
        self.clock(m)
        m.submodules.engine = engine = Engine(self.spec, self.fmt)
        m.d.comb += [engine.w.payload.eq(self.s_axis_weights_tdata), engine.w.valid.eq(self.s_axis_weights_tvalid),
                     self.s_axis_weights_tready.eq(engine.w.ready)]
        perturbed, updated = engine.perturbed, engine.updated
        m.d.comb += [self.m_axis_perturbed_tdata.eq(perturbed.payload.values),
                     self.m_axis_perturbed_tlast.eq(perturbed.payload.last),
                     self.m_axis_perturbed_tvalid.eq(perturbed.valid), perturbed.ready.eq(self.m_axis_perturbed_tready),
                     self.m_axis_updated_tdata.eq(Mux(updated.valid, updated.payload.values, 0)),
                     self.m_axis_updated_tlast.eq(updated.payload.last & updated.valid),
                     self.m_axis_updated_tvalid.eq(updated.valid), updated.ready.eq(self.m_axis_updated_tready)]
        self.pass_through(m, engine)
        return m
