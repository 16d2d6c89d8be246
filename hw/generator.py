"""The top-level perturbation generators, one per strategy, and their port contract (docs/spec.md sections 7 and 8)."""
from amaranth.hdl import Cat, Const, Module, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden import gaussian
from pezo.golden.lfsr import TAPS, feedback_mask, jump
from pezo.golden.otf import exponent_table, lane_seeds, stride
from pezo.golden.pool import pool_table
from pezo.golden.scaling import gaussian_modulus

from .gaussian import GaussianLanes
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
    hardware = GENERATORS[spec.strategy]
    if hardware.rom_entries(spec) > MAX_ROM_ENTRIES:
        raise ValueError(f"{hardware.rom_cause(spec)} is over the largest ROM pezo builds in hardware: allowed up to "
                         f"{MAX_ROM_ENTRIES} entries (larger ones work in the golden model and the trainer)")
    payload = mantissas + spec.exponent_bits + 1
    if payload > MAX_PAYLOAD_BITS:
        raise ValueError(f"{spec.to_json()}: its payload is {payload} bits (lanes x mantissa bits + exponent + "
                         f"last), over the {MAX_PAYLOAD_BITS} bits a signal can have")


def generator_signature(spec):
    """Ports (Verilog names in brackets): `o` the word stream [o__payload, o__valid, o__ready], `length`, `next`,
    `replay` (and with hop_bits `hop`) in and `done`, `busy` out; the clock domain adds [clk, rst]."""
    return wiring.Signature({
        "o": Out(stream.Signature(payload_layout(spec))),
        "length": In(spec.length_bits),
        "next": In(1),
        "replay": In(1),
        **({"hop": In(spec.hop_bits)} if spec.hop_bits else {}),
        "done": Out(1),
        "busy": Out(1),
    })


class Generator(wiring.Component):
    """A sequencer and a strategy's datapath (`_datapath`), wired to the ports of `generator_signature`.

    A strategy's hardware half is a subclass registered in GENERATORS under the strategy's name: its datapath, the
    blocks `pezo synth` prices alone (`blocks`), its ROMs (`rom_entries`, `rom_cause`, `memory_files`) and the
    constants its manifest records (`constants`).

    The payload is driven by one concatenation of the datapath's mantissas and exponent and the `last` flag:
    assigned field by field, Icarus simulates the wide port an order of magnitude slower."""

    def __init__(self, spec):
        self.spec = spec
        super().__init__(generator_signature(spec))

    def elaborate(self, platform):
        m = Module()
        m.submodules.sequencer = sequencer = Sequencer(self.spec.length_bits, self.spec.reload, self.spec.hop_bits)
        if self.spec.hop_bits:
            m.d.comb += sequencer.hop.eq(self.hop)
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

    @staticmethod
    def blocks(spec):
        """{block name: component factory} of the datapath's blocks, as `pezo synth` prices them alone."""
        return {"array": lambda: otf_array(spec),
                "array_noreplay": lambda: LfsrArray(spec.width, lane_seeds(spec), replay=False, leap=spec.leap),
                "scaler": lambda: Scaler(spec)}

    @staticmethod
    def rom_entries(spec):
        return 1 << spec.width

    @staticmethod
    def rom_cause(spec):
        return f"width={spec.width} (an exponent table of 2^{spec.width} entries)"

    @staticmethod
    def memory_files(spec, name):
        """{filename: (entries, bits)} of the ROM images: the exponent table's offsets."""
        table = exponent_table(spec)
        return {f"{name}_lut.hex": (table.offsets, table.offset_bits)}

    @staticmethod
    def constants(spec, name):
        """What the manifest records of the array and scaler (docs/spec.md sections 2 to 5); with a leap above 1 also
        the leap and the images of the basis states under step^leap (section 4b), and not otherwise, so that older
        manifests keep loading."""
        table = exponent_table(spec)
        return {
            "taps": list(TAPS[spec.width]),
            "feedback_mask": feedback_mask(spec.width),
            "stride": stride(spec),
            "lane_seeds": lane_seeds(spec),
            "E_n": gaussian_modulus(spec.generators),
            "k_min": table.low,
            "k_max": table.high,
            "lut": {"file": f"{name}_lut.hex", "depth": 1 << spec.width, "offset_bits": table.offset_bits},
            **({"leap": spec.leap, "leap_columns": jump(spec.width, spec.leap)} if spec.leap > 1 else {}),
        }

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

    @staticmethod
    def blocks(spec):
        return {"pool": lambda: Pool(spec)}

    @staticmethod
    def rom_entries(spec):
        return spec.size

    @staticmethod
    def rom_cause(spec):
        return f"size={spec.size}"

    @staticmethod
    def memory_files(spec, name):
        """{filename: (entries, bits)} of the ROM images: one bank per lane."""
        table = pool_table(spec)
        return {f"{name}_bank{lane}.hex": (table.bank(lane, spec.lanes), spec.bits) for lane in range(spec.lanes)}

    @staticmethod
    def constants(spec, name):
        """What the manifest records of the pool (docs/spec.md section 6)."""
        return {
            "exponent": pool_table(spec).exponent,
            "E_N": gaussian_modulus(spec.size),
            "banks": [f"{name}_bank{lane}.hex" for lane in range(spec.lanes)],
            "bank_depth": spec.pool_words,
        }

    def _datapath(self, m, sequencer):
        m.submodules.pool = pool = Pool(self.spec)
        wiring.connect(m, sequencer.control, pool.control)
        return [pool.mantissas], Const(pool_table(self.spec).exponent, signed(self.spec.exponent_bits))


class CltGenerator(Generator):
    """The MeZO baseline's Gaussian lanes behind the same sequencer and ports, so that it replays as the port
    contract asks, and its constant exponent.

    Cost: sequencer + GaussianLanes with replay (126 FFs per lane); Table 6 prices the lanes without replay
    (`lanes_noreplay`), as the PeZO paper's baseline row does.
    """

    @staticmethod
    def blocks(spec):
        return {"lanes": lambda: GaussianLanes(spec.lanes, spec.seed),
                "lanes_noreplay": lambda: GaussianLanes(spec.lanes, spec.seed, replay=False)}

    @staticmethod
    def rom_entries(spec):
        return 0

    @staticmethod
    def rom_cause(spec):
        return "no ROM"

    @staticmethod
    def memory_files(spec, name):
        return {}

    @staticmethod
    def constants(spec, name):
        """What the manifest records of the lanes (docs/spec.md section 6c)."""
        return {
            "taps": [gaussian.STATE_BITS, gaussian.STATE_BITS - 1],
            "leap": gaussian.LEAP,
            "offset": gaussian.OFFSET,
            "exponent": gaussian.EXPONENT,
            "lane_seeds": gaussian.lane_seeds(spec.seed, spec.lanes),
        }

    def _datapath(self, m, sequencer):
        m.submodules.lanes = lanes = GaussianLanes(self.spec.lanes, self.spec.seed)
        wiring.connect(m, sequencer.control, lanes.control)
        return [lanes.mantissas], Const(gaussian.EXPONENT, signed(self.spec.exponent_bits))


def otf_array(spec):
    """The rotating array of an otf spec: with a shadow copy, or reloaded (`spec.reload`)."""
    return (ReloadArray if spec.reload else LfsrArray)(spec.width, lane_seeds(spec), leap=spec.leap)


GENERATORS = {"otf": OtfGenerator, "pool": PoolGenerator, "clt": CltGenerator}
"""The hardware half of each registered strategy (golden/spec.py STRATEGIES), by strategy name."""


def generator(spec):
    """The generator component of a spec, of its strategy's class."""
    check_buildable(spec)
    return GENERATORS[spec.strategy](spec)
