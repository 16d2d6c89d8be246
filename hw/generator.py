"""The two top-level perturbation generators and their port contract (docs/spec.md sections 7 and 8)."""
from amaranth.hdl import Cat, Const, Module, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.otf import lane_seeds
from pezo.golden.pool import pool_table

from .lfsr_array import LfsrArray
from .payload import payload_layout
from .pool import Pool
from .reload_array import ReloadArray
from .scaler import Scaler
from .sequencer import Sequencer


MAX_PAYLOAD_BITS = (1 << 16) - 1
"""Amaranth's widest signal: a wider payload (lanes x mantissa bits + exponent + last) fails inside Amaranth."""
MAX_ROM_ENTRIES = 1 << 20
"""The largest ROM pezo builds (a pool, or the otf exponent table of 2^width entries): a pool of 2^20 entries
exports in about a minute and 2 GB; 2^20 entries of 24 bits, 25 Mbit, is about what one large FPGA holds in BRAM
(the ZCU102's XCZU9EG: 32 Mbit)."""


def check_buildable(spec):
    """Refuse (ValueError, naming the bound) a legal spec whose hardware pezo cannot build. Checked before
    anything is elaborated, and without computing the exponent table of a wide otf generator."""
    mantissas = spec.lanes * spec.mantissa_bits
    if mantissas + 3 > MAX_PAYLOAD_BITS:
        raise ValueError(f"{spec.to_json()}: {spec.lanes} lanes x {spec.mantissa_bits} bits = {mantissas} mantissa "
                         f"bits per word, over the {MAX_PAYLOAD_BITS} bits a signal can have (with the exponent and "
                         f"last): allowed lanes x bits up to about {MAX_PAYLOAD_BITS - 3}")
    entries = spec.size if spec.strategy == "pool" else 1 << spec.width
    if entries > MAX_ROM_ENTRIES:
        what = f"size={spec.size}" if spec.strategy == "pool" else f"width={spec.width} (an exponent table of " \
                                                                    f"2^{spec.width} entries)"
        raise ValueError(f"{what} is over the largest ROM pezo builds in hardware: allowed up to {MAX_ROM_ENTRIES} "
                         f"entries (larger ones work in the golden model and the trainer)")
    payload = mantissas + spec.exponent_bits + 1
    if payload > MAX_PAYLOAD_BITS:
        raise ValueError(f"{spec.to_json()}: its payload is {payload} bits (lanes x mantissa bits + exponent + "
                         f"last), over the {MAX_PAYLOAD_BITS} bits a signal can have")


def generator_signature(spec):
    """Ports (Verilog names in brackets): `o` the word stream [o__payload, o__valid, o__ready], `length`, `next`,
    `replay` in and `done`, `busy` out; the clock domain adds [clk, rst]."""
    return wiring.Signature({
        "o": Out(stream.Signature(payload_layout(spec))),
        "length": In(spec.length_bits),
        "next": In(1),
        "replay": In(1),
        "done": Out(1),
        "busy": Out(1),
    })


class Generator(wiring.Component):
    """A sequencer and a strategy's datapath (`_datapath`), wired to the ports of `generator_signature`.

    The payload is driven by one concatenation of the datapath's mantissas and exponent and the `last` flag:
    assigned field by field, Icarus simulates the wide port an order of magnitude slower."""

    def __init__(self, spec):
        self.spec = spec
        super().__init__(generator_signature(spec))

    def elaborate(self, platform):
        m = Module()
        m.submodules.sequencer = sequencer = Sequencer(self.spec.length_bits, self.spec.reload)
        m.d.comb += [
            sequencer.length.eq(self.length),
            sequencer.next.eq(self.next),
            sequencer.replay.eq(self.replay),
            sequencer.ready.eq(self.o.ready),
            self.o.valid.eq(sequencer.valid),
            self.done.eq(sequencer.done),
            self.busy.eq(sequencer.busy),
        ]
        mantissas, exponent = self._datapath(m, sequencer)
        m.d.comb += self.o.payload.eq(Cat(*mantissas, exponent, sequencer.last))
        return m


class OtfGenerator(Generator):
    """On-the-fly: a rotating LFSR array (mantissa = state with its top bit inverted) and the exponent scaler.

    Cost: sequencer + the array (LfsrArray, or ReloadArray with `reload`) + Scaler (n + 1 generators of b bits,
    the array's replay state, and one 2^b-entry ROM).
    """

    def _datapath(self, m, sequencer):
        width = self.spec.width
        m.submodules.lanes = lanes = otf_array(self.spec)
        m.submodules.scaler = scaler = Scaler(self.spec)
        wiring.connect(m, sequencer.control, lanes.control, scaler.control)
        if self.spec.reload:
            m.d.comb += sequencer.reloading.eq(lanes.reloading)
        return [state ^ (1 << (width - 1)) for state in lanes.states], scaler.exponent


class PoolGenerator(Generator):
    """Pre-generated pool: `lanes` ROM banks read at a shared pointer, and the pool's constant exponent.

    Cost: sequencer + Pool (lanes banks of size / lanes entries).
    """

    def _datapath(self, m, sequencer):
        m.submodules.pool = pool = Pool(self.spec)
        wiring.connect(m, sequencer.control, pool.control)
        return [pool.mantissas], Const(pool_table(self.spec).exponent, signed(self.spec.exponent_bits))


def otf_array(spec):
    """The rotating array of an otf spec: with a shadow copy, or reloaded (`spec.reload`)."""
    return (ReloadArray if spec.reload else LfsrArray)(spec.width, lane_seeds(spec))


def generator(spec):
    """The generator component for a spec of either strategy."""
    check_buildable(spec)
    return {"otf": OtfGenerator, "pool": PoolGenerator}[spec.strategy](spec)
