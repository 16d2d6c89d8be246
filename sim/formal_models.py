"""The formal half of each generator strategy (sim/formal.py proves the port contract with it): the strategy's own
invariants, the golden tables its stream model reads, and which of its registers the stream model pins; and the
helpers that find a block among an elaborated generator's and read a table through a ROM."""
import numpy as np
from amaranth.hdl import Assert, Mux, Value, unsigned
from amaranth.lib.memory import Memory

from ..golden.otf import lane_seeds, reference_sequence
from ..golden.pool import address as pool_address
from ..golden.stream import Stream
from ..hw.gaussian import GaussianLanes
from ..hw.lfsr_array import LfsrArray, lfsr_step
from ..hw.pool import Pool
from ..hw.reload_array import ReloadArray
from ..hw.replayable import replayable
from ..hw.scaler import Scaler


class OtfModel:
    """The otf generator's own properties (module doc): no lane carries state 0's mantissa, no array register is
    all-zero, the rotation invariant (not for the reloaded array: it has no shadow array, the stream model covers
    it); and which registers the stream model pins to the golden tables."""

    @staticmethod
    def rotates(spec):
        return not spec.reload

    @staticmethod
    def invariants(m, design, spec, payload, rotation):
        width, zero = spec.width, 1 << (spec.width - 1)                    # the mantissa of state 0
        for lane in range(spec.lanes):
            m.d.comb += Assert(payload[lane * width:(lane + 1) * width] != zero)
        array = block(design, ReloadArray if spec.reload else LfsrArray)
        _never_zero(m, array, spec)
        if rotation:
            _rotation(m, array, spec)

    @staticmethod
    def tables(spec, mantissas, packed):
        """The array's registers ("lanes") and generator 0's state ("reference") at every word, and the
        reloaded array's saved states."""
        bits = spec.mantissa_bits
        states, where = reference_sequence(spec.width)
        origin = int(where[spec.seed])
        tables = {"lanes": [packed(row, bits, 1 << (bits - 1)) for row in mantissas.tolist()],
                  "reference": [int(states[(origin + spec.leap * t) % states.size])
                                for t in range(spec.period_words)]}
        if spec.reload:
            tables.update(_reload_tables(spec, states, origin))
        return tables

    @staticmethod
    def registers(m, design, spec, tables, position, start, reloading):
        """[(register, table or None, address)] pinned to the tables; the reloaded array's are asserted here."""
        reference = block(design, Scaler).registers
        at = [(reference[0], "reference", position), (reference[1], "reference", start)]
        if not spec.reload:
            lanes, shadow = block(design, LfsrArray).registers
            return at + [(lanes, "lanes", position), (shadow, "lanes", start)]
        array, n = block(design, ReloadArray), spec.lanes
        lanes, captured, previous, saved = array.registers
        m.d.comb += [Assert(array.counters["saved_word"] == start % n),
                     Assert(saved == look_up(m, "saved", tables["previous"], start))]
        with m.If(reloading == 0):                      # mid-reload the array is not yet any word's
            m.d.comb += [Assert(Value.cast(lanes) == look_up(m, "reloaded", tables["lanes"], position)),
                         Assert(array.counters["word"] == position % n),
                         Assert(captured == look_up(m, "captured", tables["captured"], position)),
                         Assert(previous == look_up(m, "previous", tables["previous"], position))]
        return at


class PoolModel:
    """The pool generator's own properties: its word pointer and the pointer's shadow (and with slip its lap
    counter and shadow) stay below size / lanes, and the stream model pins them to its positions."""

    @staticmethod
    def rotates(spec):
        return False

    @staticmethod
    def invariants(m, design, spec, payload, rotation):
        m.d.comb += [Assert(register < spec.pool_words) for register in block(design, Pool).registers]

    @staticmethod
    def tables(spec, mantissas, packed):
        """With slip, the bank address ("address") and the word within its pass ("lap") at every position."""
        if not spec.slip:
            return {}
        words = np.arange(spec.period_words)
        return {"address": pool_address(spec, words).tolist(), "lap": (words % spec.pool_words).tolist()}

    @staticmethod
    def registers(m, design, spec, tables, position, start, reloading):
        if not spec.slip:
            pointer, shadow = block(design, Pool).registers
            return [(pointer, None, position), (shadow, None, start)]
        pointer, shadow, lap, lap_shadow = block(design, Pool).registers
        return [(pointer, "address", position), (shadow, "address", start), (lap, "lap", position),
                (lap_shadow, "lap", start)]


class CltModel:
    """The Gaussian baseline's own property: no lane register, nor its shadow, is ever all-zero (an LFSR there
    would emit -8190 for ever). Its period (2^63 - 1 words) is too long for the stream model."""

    @staticmethod
    def rotates(spec):
        return False

    @staticmethod
    def invariants(m, design, spec, payload, rotation):
        m.d.comb += [Assert(register != 0) for register in block(design, GaussianLanes).registers]

    @staticmethod
    def tables(spec, mantissas, packed):
        return {}

    @staticmethod
    def registers(m, design, spec, tables, position, start, reloading):
        return []


MODELS = {"otf": OtfModel, "pool": PoolModel, "clt": CltModel}
"""The formal half of each registered strategy (golden/spec.py STRATEGIES), by strategy name."""


def _reload_tables(spec, states, origin):
    """The reloaded array's saved states at every position t (hw/reload_array.py): `captured` holds X of the
    block of t (its word = 1 mod n), `previous` X of the block before the last word = 0 mod n, where X(u) is the
    state register n - 1 takes on entering word u, generator (u - 1) mod n at word u."""
    n, period, stride = spec.lanes, spec.period_words, states.size // spec.lanes
    x = lambda u: int(states[(origin + spec.leap * u + ((u - 1) % n) * stride) % states.size])  # noqa: E731
    return {"captured": [x(t - (t - 1) % n) for t in range(period)],
            "previous": [x(t - t % n - n + 1) for t in range(period)]}


def look_up(m, name, table, address):
    """table[address], read through a combinational ROM port."""
    rom = Memory(shape=unsigned(max(1, max(table).bit_length())), depth=len(table), init=table)
    m.submodules[f"golden_{name}"] = rom
    port = rom.read_port(domain="comb")
    m.d.comb += port.addr.eq(address)
    return port.data


def _lanes(register, spec):
    """The width-bit LFSR states a register holds (n for the array and its shadow, one for a saved state)."""
    value = Value.cast(register)
    return [value[offset:offset + spec.width] for offset in range(0, len(value), spec.width)]


def _never_zero(m, array, spec):
    """No register of the array, nor of its replay state, is all-zero (what lets induction close for otf)."""
    for register in array.registers:
        m.d.comb += [Assert(lane != 0) for lane in _lanes(register, spec)]


def _rotation(m, array, spec):
    """docs/spec.md section 4: at word t register j holds generator (j + t) mod n's state, generator i being an
    LFSR that starts at lane seed i and takes `leap` steps a word; the same holds of the shadows at the saved
    word. The generators and t are modelled here, replayed by the array's own strobes."""
    n, width = spec.lanes, spec.width
    generators = [replayable(m, array.control, unsigned(width), seed,
                             lambda state: lfsr_step(state, width, spec.leap),
                             f"generator{i}") for i, seed in enumerate(lane_seeds(spec))]
    word = replayable(m, array.control, range(n), 0, lambda t: Mux(t == n - 1, 0, t + 1), "word")
    m.d.comb += [Assert(word.value < n), Assert(word.shadow < n)]
    for register, at, which in ((array.registers[0], word.value, "value"), (array.registers[1], word.shadow,
                                                                            "shadow")):
        states = [getattr(generator, which) for generator in generators]
        lanes = _lanes(register, spec)
        for t in range(n):
            with m.If(at == t):
                m.d.comb += [Assert(lane == states[(j + t) % n]) for j, lane in enumerate(lanes)]


def golden_tables(spec):
    """The golden model's view of every position of the period: the payload without `last` ("words"), and for
    otf the array's registers ("lanes") and generator 0's state ("reference")."""
    mantissas, exponents = Stream(spec)(0, spec.period_words)
    bits, lanes = spec.mantissa_bits, spec.lanes
    packed = lambda row, width, offset=0: sum(((value + offset) & ((1 << width) - 1)) << (lane * width)  # noqa: E731
                                               for lane, value in enumerate(row))
    words = [packed(row, bits) | (exponent & ((1 << spec.exponent_bits) - 1)) << (lanes * bits)
             for row, exponent in zip(mantissas.tolist(), exponents.tolist())]
    return {"words": words, **MODELS[spec.strategy].tables(spec, mantissas, packed)}


def block(fragment, kind):
    """The block of class `kind` among an elaborated generator's blocks."""
    for sub, _, *_ in fragment.subfragments:
        for origin in sub.origins or ():
            if isinstance(origin, kind):
                return origin
    raise ValueError(f"no {kind.__name__} in the design")
