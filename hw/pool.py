"""The pre-generated pool: banked ROMs read one word per advance, cyclically (docs/spec.md section 6)."""
from amaranth.hdl import Module, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from pezo.golden.pool import pool_table

from .replayable import Control, replayable


class Pool(wiring.Component):
    """A word pointer (0 .. W-1, wrapping; W = size / lanes) addresses `lanes` ROM banks, bank j holding entries
    j, j + lanes, j + 2 lanes, ... The pointer's shadow holds the start of the current perturbation.

    With `slip` a second pointer `lap` counts the words of each pass (0 .. W-1) and the address pointer moves on
    by two words where `lap` wraps, so each pass starts one word later than the last (docs/spec.md section 6b).

    Each bank's synchronous, non-transparent read port is addressed by the pointer's next value, so its data
    matches the pointer in every cycle but the first after reset.
    Ports: in `control`; out `mantissas` (lanes x bits, signed). Once elaborated, `registers` holds the pointer
    and its shadow (and with slip `lap` and its shadow), for the formal proofs (sim/formal.py).
    Cost: 2 ceil(log2 W) FFs, an incrementer and a wrap test (two carry chains), and lanes ROMs of W x bits (BRAM);
    slip doubles the FFs and carry chains.
    """

    def __init__(self, spec):
        self._spec = spec
        super().__init__({
            "control": In(Control),
            "mantissas": Out(data.ArrayLayout(signed(spec.bits), spec.lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        spec, table = self._spec, pool_table(self._spec)
        words = spec.pool_words
        if spec.slip:
            lap = replayable(m, self.control, range(words), 0, lambda lap: _wrapping_increment(lap, words), "lap")
            wraps = _at_end(lap.value, words)
            pointer = replayable(m, self.control, range(words), 0,
                                 lambda pointer: _wrapping_add(pointer, wraps, words), "pointer")
            self.registers = [pointer.value, pointer.shadow, lap.value, lap.shadow]
        else:
            pointer = replayable(m, self.control, range(words), 0,
                                 lambda pointer: _wrapping_increment(pointer, words), "pointer")
            self.registers = [pointer.value, pointer.shadow]
        address = pointer.following
        for lane in range(spec.lanes):
            m.submodules[f"bank{lane}"] = bank = Memory(shape=signed(spec.bits), depth=words,
                                                        init=table.bank(lane, spec.lanes).tolist())
            port = bank.read_port(transparent_for=())
            m.d.comb += [port.addr.eq(address), self.mantissas[lane].eq(port.data)]
        return m


def _wrapping_add(pointer, extra, words):
    """pointer + 1 + extra (extra one bit) modulo words: the sum less `words` where the sum reaches it, found as the
    carry out of sum + (2^k - words), a carry chain."""
    width = len(pointer) + 1
    total = (pointer + 1 + extra)[:width]
    beyond = (total + ((1 << width) - words))[width]
    return Mux(beyond, total - words, total)


def _wrapping_increment(pointer, words):
    """pointer + 1, or 0 after words - 1."""
    return Mux(_at_end(pointer, words), 0, pointer + 1)


def _at_end(pointer, words):
    """pointer == words - 1, as the carry out of pointer + (2^k - (words - 1)) (k the pointer's width): a carry
    chain, so that no wide comparison adds LUT levels."""
    width = len(pointer)
    return (pointer + ((1 << width) - (words - 1)))[width]
