"""The rotating LFSR array with a cheap replay: reloaded through its own shift path (docs/spec.md section 4a)."""
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.lfsr import jump, period
from pezo.golden.otf import reference_sequence

from .lfsr_array import linear_map, lfsr_step
from .replayable import Control


class ReloadArray(wiring.Component):
    """The array of LfsrArray (same `control` and `states`; n >= 2 registers of `width` bits, register j <=
    step^leap(register j + 1) on advance) without a shadow copy. A replay rebuilds it in n + r cycles (r = the
    saved word mod n), while `reloading` is high; the sequencer then raises no strobe and shows `busy`.

    With X(t) the value register n - 1 takes on entering word t, the array at word t is fixed by the last n
    values it took, and within a block of words a .. a + n - 1 (a = 1 mod n) each X is the last one stepped
    stride + leap times (the jump J). So three b-bit registers, written by clock enable only, keep what a replay
    needs: `captured` takes X on entering a word = 1 mod n, `previous` takes `captured` on entering a word = 0
    mod n, and `saved` takes `previous` on `save` (with the word mod n). A `restore` shifts `saved` into
    register n - 1, n - 1 more shifts feed it J(register n - 1), which leaves the array at the word = 0 mod n
    before the saved one; r plain advances reach it. The reload refreshes `captured` and `previous` by the same
    rules.

    Ports: in `control`; out `states` (n x width), `reloading`. Once elaborated, `registers` holds the array and
    the three saved states, and `counters` the word mod n and its saved copy, for the formal proofs
    (sim/formal.py).
    Cost: n * width + 3 * width + 2 ceil(log2 n) + 2 FFs; n LUTs for the array's feedback, a 2:1 multiplexer in
    front of register n - 1, J (about 2 LUTs per bit) and a mod-n counter with its compare.
    """

    def __init__(self, width, seeds, leap=1):
        if len(seeds) < 2:
            raise ValueError(f"a reloaded array needs at least 2 generators (got {len(seeds)})")
        self._width, self._seeds, self._leap = width, list(seeds), leap
        super().__init__({
            "control": In(Control),
            "states": Out(data.ArrayLayout(unsigned(width), len(self._seeds))),
            "reloading": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        width, count, leap = self._width, len(self._seeds), self._leap
        last = count - 1
        states, where = reference_sequence(width)
        block_start = int(states[(int(where[self._seeds[0]]) - leap * last) % states.size])     # X(1 - n)
        columns = jump(width, period(width) // count + leap)

        lanes = Signal(self.states.shape(), init=self._seeds, name="lanes")
        captured, previous, saved = (Signal(width, init=block_start, name=name)
                                     for name in ("captured", "previous", "saved"))
        word, saved_word = Signal(range(count), name="word"), Signal(range(count), name="saved_word")
        lap, reloading = Signal(), Signal()
        self.registers = [lanes, captured, previous, saved]
        self.counters = {"word": word, "saved_word": saved_word}
        control = self.control

        shift, feed = Signal(), Signal()
        wraps = word == last
        with m.If(control.restore):
            m.d.sync += [word.eq(1), lap.eq(0), reloading.eq(1)]
        with m.Elif(reloading):
            with m.If(lap & (word == saved_word)):
                m.d.sync += reloading.eq(0)
            with m.Else():
                m.d.comb += [shift.eq(1), feed.eq(~lap)]
                m.d.sync += [word.eq(Mux(wraps, 0, word + 1)), lap.eq(lap | wraps)]
        with m.Elif(control.advance):
            m.d.comb += shift.eq(1)
            m.d.sync += word.eq(Mux(wraps, 0, word + 1))
        with m.If(control.save & ~reloading):
            m.d.sync += [saved.eq(previous), saved_word.eq(word)]

        entering = Signal(width)                                       # what register n - 1 takes
        with m.If(control.restore):
            m.d.comb += entering.eq(saved)
        with m.Elif(feed):
            m.d.comb += entering.eq(linear_map(lanes[last], columns))
        with m.Else():
            m.d.comb += entering.eq(lfsr_step(lanes[0], width, leap))
        with m.If(shift | control.restore):
            m.d.sync += [lanes[j].eq(lfsr_step(lanes[j + 1], width, leap)) for j in range(last)]
            m.d.sync += lanes[last].eq(entering)
        with m.If(control.restore | (shift & (word == 0))):          # entering a word = 1 mod n
            m.d.sync += captured.eq(entering)
        with m.If(shift & wraps):                                      # entering a word = 0 mod n
            m.d.sync += previous.eq(captured)
        m.d.comb += [self.states.eq(lanes), self.reloading.eq(reloading)]
        return m
