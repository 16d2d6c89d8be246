"""An AXI4-Lite slave holding a register map of host/registers.py (docs/spec.md section 12).

Ports: the bus, named as AXI names it in lower case (`awaddr`, `awvalid`, `awready`, `wdata`, `wstrb`, `wvalid`,
`wready`, `bresp`, `bvalid`, `bready`, `araddr`, `arvalid`, `arready`, `rdata`, `rresp`, `rvalid`, `rready`;
12-bit addresses, 32-bit data), and one port per field: `rw` fields out (their value), `ro` fields in (what is
read), `w1c` fields out (the flag) with an input `set_<name>` that raises it, `w1p` fields out (a one-cycle
pulse). `const` fields have no port. Each `rw` field also has an output `<name>_written`, high in the cycle after a
write to its register (when the new value is out).

A write is taken when its address and data are both offered (AWREADY and WREADY rise together, one cycle later:
no path from an input to a ready), bytes as WSTRB says; a read likewise. One write and one read are outstanding at
most; responses wait for BREADY and RREADY. Every response is OKAY.
Cost: the rw and w1c fields' flip-flops, 32 + 5 more, and a read multiplexer of the registers.
"""
from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pezo.host.registers import ADDRESS_BITS

BUS = {"awaddr": In(ADDRESS_BITS), "awvalid": In(1), "awready": Out(1), "wdata": In(32), "wstrb": In(4),
       "wvalid": In(1), "wready": Out(1), "bresp": Out(2), "bvalid": Out(1), "bready": In(1),
       "araddr": In(ADDRESS_BITS), "arvalid": In(1), "arready": Out(1), "rdata": Out(32), "rresp": Out(2),
       "rvalid": Out(1), "rready": In(1)}
"""The AXI4-Lite slave's ports (without AWPROT and ARPROT, which it would ignore)."""
OKAY = 0


def field_ports(registers):
    """The signature members of the fields of `registers`."""
    members = {}
    for register in registers:
        for field in register.fields:
            if field.access == "ro":
                members[field.name] = In(field.width)
            elif field.access != "const":
                members[field.name] = Out(field.width, init=field.reset)
            if field.access == "w1c":
                members[f"set_{field.name}"] = In(1)
            if field.access == "rw":
                members[f"{field.name}_written"] = Out(1)
    return members


class RegisterBlock(wiring.Component):
    def __init__(self, registers):
        self.registers = registers
        super().__init__(wiring.Signature({**BUS, **field_ports(registers)}))

    def elaborate(self, platform):
        m = Module()
        # AWREADY and WREADY are two flip-flops of one value, BRESP and RRESP registers holding OKAY: a port
        # that shared another's net would share its Vivado interface attributes too
        taking_write, taking_read = self.awready, self.arready
        m.d.sync += [self.awready.eq(self.awvalid & self.wvalid & ~taking_write & ~self.bvalid),
                     self.wready.eq(self.awvalid & self.wvalid & ~taking_write & ~self.bvalid),
                     self.arready.eq(self.arvalid & ~taking_read & ~self.rvalid)]
        with m.If(self.bvalid & self.bready):
            m.d.sync += self.bvalid.eq(0)
        with m.If(taking_write):
            m.d.sync += [self.bvalid.eq(1), self.bresp.eq(OKAY)]
        with m.If(self.rvalid & self.rready):
            m.d.sync += self.rvalid.eq(0)
        with m.If(taking_read):
            m.d.sync += [self.rvalid.eq(1), self.rresp.eq(OKAY)]

        for register in self.registers:
            writing = taking_write & (self.awaddr[2:] == register.address // 4)
            for field in register.fields:
                self._write(m, field, writing)
        with m.If(taking_read):
            with m.Switch(self.araddr[2:]):
                for register in self.registers:
                    with m.Case(register.address // 4):
                        m.d.sync += self.rdata.eq(Cat(*self._read(register)))
                with m.Default():
                    m.d.sync += self.rdata.eq(0)
        return m

    def _write(self, m, field, writing):
        """The field's update: the written bits are those whose byte's strobe is set."""
        if field.access in ("ro", "const"):
            return
        value = getattr(self, field.name)
        written = self.wdata[field.bit:field.bit + field.width]
        strobed = Cat(self.wstrb[(field.bit + i) // 8] for i in range(field.width))
        if field.access == "rw":
            m.d.sync += getattr(self, f"{field.name}_written").eq(writing)
            with m.If(writing):
                m.d.sync += value.eq((value & ~strobed) | (written & strobed))
        elif field.access == "w1p":
            m.d.sync += value.eq(Mux(writing, strobed & written, 0))
        else:                                           # w1c: a set in the same cycle wins
            cleared = Mux(writing, strobed & written, 0)
            m.d.sync += value.eq((value & ~cleared) | getattr(self, f"set_{field.name}"))

    def _read(self, register):
        """The register's 32 bits, from its fields (w1p fields read as 0)."""
        parts, bit = [], 0
        for field in sorted(register.fields, key=lambda field: field.bit):
            parts += [Const(0, field.bit - bit)] if field.bit > bit else []
            if field.access == "const":
                parts.append(Const(field.reset, field.width))
            elif field.access == "w1p":
                parts.append(Const(0, field.width))
            else:
                parts.append(getattr(self, field.name))
            bit = field.bit + field.width
        return parts + ([Const(0, 32 - bit)] if bit < 32 else [])
