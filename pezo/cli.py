"""The `pezo` command line: export, sim, prove, flow (the main job on the paper's defaults), hil, synth, train,
quality and sweep.

Every command takes a generator configuration as a preset (`--preset otf-31x8`), a JSON spec file (`--spec`), an
exported build (`--manifest`), or field by field (`--strategy otf --generators 31 --width 8 ...`). Bad input
exits with status 2 and a message naming the bad value and what is allowed.
"""
import argparse
import dataclasses
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from . import __version__
from .files import held
from .golden import PAPER_DEFAULTS
from .golden.engine import FORMATS
from .errors import ToolFailed, UsageError
from .options import add_spec_options, count, output_file, output_folder, spec_from_args, tool_folder
from .sweep.cli import add_parser as add_sweep_parser
from .train.cli import add_parser as add_train_parser
from .train.cli import add_quality_parser


def export_command(args):
    from .hw.export import export
    spec = spec_from_args(args)
    out = export(spec, args.out, name=args.name, force=args.force, engine=args.engine)
    manifest = json.loads((out / "manifest.json").read_text())
    what = f"the ZO engine with {args.engine} weights around {spec.label}" if args.engine else spec.label
    print(f"exported {what} as module {manifest['top']} into {out}/")
    for filename in manifest["files"]:
        print(f"  {filename}")
    print("  manifest.json")
    return 0


def report_line(spec, simulation, result):
    verdict = "PASS" if result.passed else "FAIL"
    return (f"{verdict} {spec.label} on {simulation.simulator}: {result.values:,} values ({result.words:,} "
            f"words) compared bit for bit; simulation {result.run_seconds:.1f} s = "
            f"{result.values_per_second:,.0f} values/s, check {result.check_seconds:.1f} s, "
            f"build {simulation.build_seconds:.1f} s")


def engine_sim_command(args, spec):
    """`pezo sim --engine FMT`: the ZO engine around the configuration's generator, ZO steps over `--values`
    values (three passes a step, updates written back) compared bit for bit with the golden engine."""
    from .files import work_folder
    from .hw.export import load_build
    from .hw.generator import check_buildable
    from .sim import engine_sim
    from .sim.simulate import work_name
    if args.saif or args.waves or args.json or args.length is not None:
        raise UsageError("--engine runs ZO steps over --values weights: give no --saif, --waves, --json or --length")
    exported = None
    if args.manifest:
        build = load_build(args.manifest)
        if build.engine != args.engine:
            raise UsageError(f"--manifest {args.manifest} is " + (
                f"the engine's build with {build.engine} weights: give --engine {build.engine}" if build.engine
                else "a generator's build: export the engine with pezo export --engine"))
        exported = build.top, build.files
    check_buildable(spec)
    steps = 2
    beats = max(1, -(-args.values // (3 * steps * spec.lanes)))
    workdir = args.workdir or Path("out") / "sim" / f"engine-{args.engine}-{work_name(spec)}-{args.simulator}"
    with work_folder(workdir, engine_sim.OWNS + ["run/"]) as folder:
        simulation = engine_sim.build(spec, args.engine, args.simulator, folder, beats, exported)
        theta, plan = engine_sim.test_weights(beats * spec.lanes, args.engine), engine_sim.step_plan(steps)
        got, seconds = simulation.run(theta, plan)
    mismatch = engine_sim.first_mismatch(got, engine_sim.golden_passes(spec, args.engine, theta, plan))
    values = sum(out.numel() for out in got)
    print(f"{'FAIL' if mismatch else 'PASS'} engine {args.engine} around {spec.label} on {args.simulator}: "
          f"{values:,} values ({steps} ZO steps of 3 passes over {theta.numel():,} weights) compared bit for bit; "
          f"simulation {seconds:.1f} s = {values / seconds:,.0f} values/s, build {simulation.build_seconds:.1f} s")
    if exported:
        print(f"  simulated the build's own {simulation.top}.v, as its manifest records")
    if mismatch:
        print(f"  {mismatch}")
    return 1 if mismatch else 0


def sim_command(args):
    from .files import Busy, write_file
    from .hw.export import load_build
    from .sim.simulate import default_workdirs, run_simulation
    spec = spec_from_args(args)
    if args.engine:
        return engine_sim_command(args, spec)
    build = load_build(args.manifest) if args.manifest else None
    if build and build.engine:
        raise UsageError(f"--manifest {args.manifest} is the ZO engine's build: simulate it with --engine "
                         f"{build.engine}")
    exported = (build.top, build.files) if build else None
    if args.length is not None and not 1 <= args.length < 1 << spec.length_bits:
        raise UsageError(f"--length {args.length} is out of range: allowed 1..{(1 << spec.length_bits) - 1} words "
                         f"(the {spec.length_bits}-bit length input)")
    if args.saif and (args.simulator != "verilator" or args.waves):
        raise UsageError("--saif needs --simulator verilator and no --waves")
    for workdir in [args.workdir] if args.workdir else default_workdirs(spec, args.simulator, exported):
        try:
            simulation, result, scenario = run_simulation(spec, args.simulator, args.values, workdir, args.length,
                                                          args.waves, saif=args.saif, exported=exported)
            break
        except Busy:
            if args.workdir or workdir.name.endswith("-999"):
                raise
    print(report_line(spec, simulation, result))
    verilog, digest = f"{simulation.top}.v", simulation.verilog_sha256
    if exported:
        folder = args.manifest if args.manifest.is_dir() else args.manifest.parent
        print(f"  simulated the build's own {folder / verilog} (sha256 {digest}, as its manifest records)")
    else:
        print(f"  simulated {workdir / 'rtl' / verilog} (sha256 {digest}), exported from the spec")
    if args.saif:
        print(f"  switching activity (SAIF) in {args.saif}")
    if not result.passed:
        print(f"  {result.mismatch}")
    if args.waves:
        print(f"  waves in {workdir / 'run'}")
    if args.json:
        record = {"spec": spec.to_dict(), "simulator": args.simulator, "scenario_length": scenario.length,
                  "verilog": {"file": verilog, "sha256": digest, "from": "manifest" if exported else "spec"},
                  "passed": result.passed, "words": result.words, "values": result.values,
                  "run_seconds": result.run_seconds, "check_seconds": result.check_seconds,
                  "build_seconds": simulation.build_seconds, "values_per_second": result.values_per_second,
                  "mismatch": result.mismatch}
        write_file(args.json, json.dumps(record, indent=2) + "\n")
    return 0 if result.passed else 1


def prove_command(args):
    """Prove a configuration's port contract with SymbiYosys (sim/formal.py)."""
    from .files import work_folder
    from .hw.generator import check_buildable
    from .sim.formal import MODELS, OWNS, WORDS_LIMIT, prove
    from .sim.simulate import work_name
    spec = spec_from_args(args)
    if not 1 <= args.depth <= 200:
        raise UsageError(f"--depth {args.depth} is out of range: allowed 1..200 cycles")
    check_buildable(spec)
    workdir = args.workdir or Path("out") / "prove" / work_name(spec)
    with work_folder(workdir, OWNS) as folder:
        proof = prove(spec, folder, args.depth, rotation=True if args.rotation else None,
                      words=True if args.words else None)
    says = {"proven": f"PROVEN {spec.label}: the port contract holds in every reachable state (k-induction, "
                      f"depth {proof.depth})",
            "bounded": f"BOUNDED {spec.label}: the port contract holds for the first {proof.depth} cycles "
                       f"from reset; k-induction did not close at that depth",
            "failed": f"FAIL {spec.label}: the port contract is violated within {proof.depth} cycles; "
                      f"counterexample: {proof.trace}"}
    print(says[proof.kind])
    rotation = ("with the rotation invariant" if proof.rotation else
                "without the rotation invariant (asserted for otf up to 15 lanes; --rotation asks for it)"
                if MODELS[spec.strategy].rotates(spec) else "")
    words = ("with the stream model: every word is the golden model's, replays, next and leftover shifting included"
             if proof.words else f"without the stream model (asserted for periods up to {WORDS_LIMIT} words; "
                                 f"--words asks for it)")
    print(f"  properties: docs/spec.md section 7 as asserted in sim/formal.py, {words}"
          f"{', ' + rotation if rotation else ''}; SymbiYosys files in {workdir}")
    return 0 if proof.passed else 1


def flow_command(args):
    """Export every paper default and prove those very files bit-exact on both simulators."""
    from .hw.export import export, load_build
    from .sim.runner import SIMULATORS
    from .sim.simulate import run_simulation
    out = args.out
    rows, failed = [], False
    begin = time.perf_counter()
    for name, spec in PAPER_DEFAULTS.items():
        rtl = export(spec, out / name / "rtl", force=True)
        build = load_build(rtl)              # the exported files themselves are what each simulator compiles
        for simulator in SIMULATORS:
            values = args.values_verilator if simulator == "verilator" else args.values_icarus
            simulation, result, _ = run_simulation(spec, simulator, values, out / name / simulator,
                                                   exported=(build.top, build.files))
            print(report_line(spec, simulation, result), flush=True)
            failed |= not result.passed
            rows.append((name, f"{rtl}/{build.top}.v", simulator, result))
    print(f"\npezo flow: the PeZO paper's default generators, exported and simulated in "
          f"{time.perf_counter() - begin:.0f} s\n")
    print("| configuration | Verilog | simulator | values checked | bit-exact | values/s |")
    print("|---|---|---|---|---|---|")
    for name, verilog, simulator, result in rows:
        print(f"| {name} | {verilog} | {simulator} | {result.values:,} | {'yes' if result.passed else 'NO'} | "
              f"{result.values_per_second:,.0f} |")
    return 1 if failed else 0


def hil_command(args):
    """Train through the simulated engine and generator; compare every step with the golden trainer."""
    from .files import work_folder
    from . import hil
    from .train.config import Config
    if not (args.preset or args.spec or args.manifest or args.strategy):
        args.preset = "pool-4095x12"
    spec = spec_from_args(args)
    if not 1 <= args.steps <= 1000:
        raise UsageError(f"--steps {args.steps} is out of range: allowed 1..1000")
    config = Config(out=str(args.out), model=args.model, perturb=spec.source, spec=spec.to_dict(),
                    numerics=args.numerics, steps=args.steps, lr=args.lr, eps=args.eps, k=args.k,
                    batch_size=args.batch_size, seed=args.train_seed, test_size=args.test_size)
    config.check()
    with work_folder(args.out, hil.OWNS[args.via]) as folder:
        outcome = hil.train_through_rtl(dataclasses.asdict(config), args.steps, args.simulator, folder, args.via)
    for step in outcome.steps:
        losses = step["loss_plus"] == step["golden_loss_plus"] and step["loss_minus"] == step["golden_loss_minus"]
        weights = "bit-identical" if step["weights_identical"] else f"{step['weights_differing']} differ"
        print(f"step {step['step']}: L+ {step['loss_plus']:.6f} L- {step['loss_minus']:.6f} g "
              f"{step['projected_grad']:+.4e}; the golden trainer's losses {'equal' if losses else 'DIFFER'}, "
              f"weights {weights}")
    verdict = "PASS" if outcome.identical else "FAIL"
    timing = (f"simulation {outcome.seconds:.1f} s, build {outcome.build_seconds:.1f} s"
              if outcome.build_seconds is not None else f"build and simulation {outcome.seconds:.1f} s")
    print(f"{verdict} {len(outcome.steps)} ZO steps of {args.model} ({outcome.weights:,} weights) through the "
          f"{'bf16' if args.numerics == 'engine-bf16' else 'fp32'} engine around {spec.label} on {args.simulator}"
          f"{' (its AXI IP, driven by the host driver)' if args.via == 'axi' else ''}: every perturbed and updated "
          f"weight from the RTL; {timing}; report in {args.out / 'report.json'}")
    return 0 if outcome.identical else 1


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def parser():
    main_parser = Parser(prog="pezo", description=__doc__.splitlines()[0])
    main_parser.add_argument("--version", action="version", version=f"pezo {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True)
    from .synth.cli import add_parser as add_synth_parser
    add_synth_parser(commands)

    export_parser = commands.add_parser("export", help="write Verilog, ROM images and manifest.json")
    add_spec_options(export_parser)
    export_parser.add_argument("--out", type=output_folder, required=True,
                               help="output folder (new or empty, or pezo's own with --force)")
    export_parser.add_argument("--name", help="top module name (default e.g. pezo_otf_31x8)")
    export_parser.add_argument("--force", action="store_true",
                               help="replace a folder pezo wrote (refused if it holds anything else)")
    export_parser.add_argument("--engine", choices=list(FORMATS),
                               help="export the ZO engine (docs/spec.md section 11) around the generator, with "
                                    "weights in this format")
    export_parser.set_defaults(run=export_command)

    sim_parser = commands.add_parser("sim", help="prove a configuration bit-exact on a simulator")
    add_spec_options(sim_parser)
    sim_parser.add_argument("--simulator", choices=["icarus", "verilator"], default="verilator")
    sim_parser.add_argument("--values", type=count, default=1_000_000, help="values to compare (default 10^6)")
    sim_parser.add_argument("--length", type=int,
                            help="words per perturbation (default: all, at most 4096 and 2^length_bits - 1)")
    sim_parser.add_argument("--workdir", type=tool_folder,
                            help="build and run folder, claimed for this run (default out/sim/<config>-<digest>-<sim>)")
    sim_parser.add_argument("--waves", action="store_true",
                            help="write waves: <workdir>/run/waves.fst (Icarus) or dump.vcd (Verilator)")
    sim_parser.add_argument("--saif", type=output_file, help="write the run's switching activity as SAIF (Verilator)")
    sim_parser.add_argument("--json", type=output_file, help="also write the result as JSON to this file")
    sim_parser.add_argument("--engine", choices=list(FORMATS),
                            help="simulate the ZO engine around the generator, with weights in this format "
                                 "(docs/spec.md section 11)")
    sim_parser.set_defaults(run=sim_command)

    prove_parser = commands.add_parser("prove", help="prove a configuration's port contract (SymbiYosys)")
    add_spec_options(prove_parser)
    prove_parser.add_argument("--depth", type=int, default=20, help="k-induction / bounded depth in cycles (20)")
    prove_parser.add_argument("--rotation", action="store_true",
                              help="assert the otf rotation invariant whatever the lanes (slow beyond 15)")
    prove_parser.add_argument("--words", action="store_true",
                              help="assert the stream model (every word the golden model's) whatever the period "
                                   "(slow beyond 1024 words)")
    prove_parser.add_argument("--workdir", type=tool_folder,
                              help="SymbiYosys folder, claimed for this run (default out/prove/<config>-<digest>)")
    prove_parser.set_defaults(run=prove_command)

    flow_parser = commands.add_parser("flow", help="the main job: export and prove the paper's defaults")
    flow_parser.add_argument("--out", type=tool_folder, default=Path("out"), help="output folder (default out/)")
    flow_parser.add_argument("--values-icarus", type=count, default=100_000)
    flow_parser.add_argument("--values-verilator", type=count, default=1_000_000)
    flow_parser.set_defaults(run=flow_command)
    hil_parser = commands.add_parser("hil", help="train a small LM through the simulated engine, bit for bit "
                                     "against the golden trainer")
    add_spec_options(hil_parser)
    hil_parser.add_argument("--out", type=tool_folder, required=True, help="work folder (new, empty or pezo's)")
    hil_parser.add_argument("--model", default="rt-tiny", help="the model (default rt-tiny: built from a config)")
    hil_parser.epilog = "The generator defaults to pool-4095x12; any other is given as in pezo export."
    hil_parser.add_argument("--numerics", choices=["engine", "engine-bf16"], default="engine",
                            help="fp32 (engine) or bf16 (engine-bf16) weights")
    hil_parser.add_argument("--simulator", choices=["icarus", "verilator"], default="verilator")
    hil_parser.add_argument("--via", choices=["harness", "axi"], default="harness",
                            help="harness: the engine in a harness whose memory holds the weights (default); axi: "
                                 "its AXI IP, driven by the host driver (host/driver.py) over AXI4-Lite and two DMAs")
    hil_parser.add_argument("--steps", type=int, default=4, help="ZO steps (default 4)")
    hil_parser.add_argument("--lr", type=float, default=1e-3, help="default 1e-3")
    hil_parser.add_argument("--eps", type=float, default=2.0 ** -10, help="a power of two (default 2^-10)")
    hil_parser.add_argument("--k", type=int, default=16, help="examples per class (default 16)")
    hil_parser.add_argument("--batch-size", type=int, default=16, help="default 16")
    hil_parser.add_argument("--test-size", type=int, default=100, help="held out from the split (default 100)")
    hil_parser.add_argument("--train-seed", type=int, default=0,
                            help="the training run's seed (data split, batches; default 0); --seed is the generator's")
    hil_parser.set_defaults(run=hil_command)
    add_train_parser(commands)
    add_quality_parser(commands)
    add_sweep_parser(commands)
    return main_parser


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that every `finally` (staging files, child processes) runs."""


def _stop(signum, frame):
    """On SIGINT or SIGTERM: stop every process pezo started (a simulator, a compiler), then unwind (after a
    write that is finishing, pezo.files.held)."""
    if held(signum):
        return
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated


def _descendants(pid):
    """The processes below `pid` (Linux /proc; none elsewhere)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _misread(argv):
    """What argparse would misreport in `argv`, said plainly, or None: an option before the command (argparse
    names the missing command, not the option), and a value beginning with '-' that is not a number (argparse
    takes it for an option and says the one before it lacks its value)."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        return f"{argv[0]} is not an option of pezo itself: give a command first (pezo --help lists them)"
    for option, value in zip(argv, argv[1:]):
        if option.startswith("--") and "=" not in option and re.fullmatch(r"-[0-9.]\S*", value) and \
                not re.fullmatch(r"-[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?", value):
            return f"{option} {value}: a value beginning with '-' reads as an option: write {option}={value}"
    return None


def main(argv=None):
    """Run one command: exit 0, 1 where a check failed, 2 on bad input (one line naming it), 130 or 143 when
    interrupted by SIGINT or SIGTERM."""
    for stream in (sys.stdout, sys.stderr):     # a path that is not UTF-8 is shown escaped, never a failed print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    refused = _misread(sys.argv[1:] if argv is None else list(map(str, argv)))
    if refused:
        print(f"error: pezo: {refused}", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    handlers = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)
                if threading.current_thread() is threading.main_thread()}
    try:
        return args.run(args)
    except (ValueError, UsageError, OSError) as error:
        where = f"{error.filename}: {error.strerror}" if isinstance(error, OSError) and error.filename else error
        print(f"error: {where}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        print(f"error: the Python package {error.name} is not installed: pezo's extras bring it "
              f"(pip install 'pezo[sim,synth,train]')", file=sys.stderr)
        return 2
    except ToolFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pezo: interrupted (SIGINT)", file=sys.stderr)
        return 130
    except Terminated:
        print("pezo: terminated (SIGTERM)", file=sys.stderr)
        return 143
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
