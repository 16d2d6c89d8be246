"""The `pezo` command line: export, sim and flow (the main job on the paper's defaults).

Every command takes a generator configuration as a preset (`--preset otf-31x8`), a JSON spec file (`--spec`), an
exported build (`--manifest`), or field by field (`--strategy otf --generators 31 --width 8 ...`). Bad input
exits with status 2 and a message naming the bad value and what is allowed.
"""
import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

from .golden import PAPER_DEFAULTS
from .options import UsageError, add_spec_options, spec_from_args, spec_label
from .train.cli import add_parser as add_train_parser


def export_command(args):
    from .hw.export import export
    spec = spec_from_args(args)
    out = export(spec, args.out, name=args.name, force=args.force)
    manifest = json.loads((out / "manifest.json").read_text())
    print(f"exported {spec_label(spec)} as module {manifest['top']} into {out}/")
    for filename in manifest["files"]:
        print(f"  {filename}")
    print("  manifest.json")
    return 0


def run_simulation(spec, simulator, values, workdir, length=None, waves=False, saif=False):
    """Build and run `values` values of the ZO pattern on one simulator; returns (Simulation, Result, scenario)."""
    from .sim.runner import build
    from .sim.scenario import zo_steps
    words = math.ceil(values / spec.lanes)
    length = length or max(1, min(4096, words))
    simulation = build(spec, simulator, workdir, waves=waves, saif=saif)
    scenario = zo_steps(length, words)
    return simulation, simulation.run(scenario), scenario


def report_line(spec, simulation, result):
    verdict = "PASS" if result.passed else "FAIL"
    return (f"{verdict} {spec_label(spec)} on {simulation.simulator}: {result.values:,} values ({result.words:,} "
            f"words) compared bit for bit; simulation {result.run_seconds:.1f} s = "
            f"{result.values_per_second:,.0f} values/s, check {result.check_seconds:.1f} s, "
            f"build {simulation.build_seconds:.1f} s")


def sim_command(args):
    spec = spec_from_args(args)
    if args.values < 1:
        raise UsageError(f"--values {args.values} must be at least 1")
    if args.length is not None and args.length < 1:
        raise UsageError(f"--length {args.length} must be at least 1 word")
    if args.saif and (args.simulator != "verilator" or args.waves):
        raise UsageError("--saif needs --simulator verilator and no --waves")
    workdir = args.workdir or Path("out") / "sim" / f"{spec_label(spec)}-{args.simulator}"
    simulation, result, scenario = run_simulation(spec, args.simulator, args.values, workdir, args.length,
                                                  args.waves, saif=bool(args.saif))
    print(report_line(spec, simulation, result))
    if args.saif:
        args.saif.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(simulation.saif_path(), args.saif)
        print(f"  switching activity (SAIF) in {args.saif}")
    if not result.passed:
        print(f"  {result.mismatch}")
    if args.waves:
        print(f"  waves in {workdir / 'run'}")
    if args.json:
        record = {"spec": spec.to_dict(), "simulator": args.simulator, "scenario_length": scenario.length,
                  "passed": result.passed, "words": result.words, "values": result.values,
                  "run_seconds": result.run_seconds, "check_seconds": result.check_seconds,
                  "build_seconds": simulation.build_seconds, "values_per_second": result.values_per_second,
                  "mismatch": result.mismatch}
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0 if result.passed else 1


def flow_command(args):
    """Export every paper default and prove it bit-exact on both simulators."""
    from .hw.export import export
    from .sim.runner import SIMULATORS
    out = args.out
    rows, failed = [], False
    begin = time.perf_counter()
    for name, spec in PAPER_DEFAULTS.items():
        rtl = export(spec, out / name / "rtl", force=True)
        top = json.loads((rtl / "manifest.json").read_text())["top"]
        for simulator in SIMULATORS:
            values = args.values_verilator if simulator == "verilator" else args.values_icarus
            simulation, result, _ = run_simulation(spec, simulator, values, out / name / simulator)
            print(report_line(spec, simulation, result), flush=True)
            failed |= not result.passed
            rows.append((name, f"{rtl}/{top}.v", simulator, result))
    print(f"\npezo flow: the PeZO paper's default generators, exported and simulated in "
          f"{time.perf_counter() - begin:.0f} s\n")
    print("| configuration | Verilog | simulator | values checked | bit-exact | values/s |")
    print("|---|---|---|---|---|---|")
    for name, verilog, simulator, result in rows:
        print(f"| {name} | {verilog} | {simulator} | {result.values:,} | {'yes' if result.passed else 'NO'} | "
              f"{result.values_per_second:,.0f} |")
    return 1 if failed else 0


def parser():
    main_parser = argparse.ArgumentParser(prog="pezo", description=__doc__.splitlines()[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    from .synth.cli import add_parser as add_synth_parser
    add_synth_parser(commands)

    export_parser = commands.add_parser("export", help="write Verilog, ROM images and manifest.json")
    add_spec_options(export_parser)
    export_parser.add_argument("--out", type=Path, required=True, help="output directory (must be new or empty)")
    export_parser.add_argument("--name", help="top module name (default e.g. pezo_otf_31x8)")
    export_parser.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    export_parser.set_defaults(run=export_command)

    sim_parser = commands.add_parser("sim", help="prove a configuration bit-exact on a simulator")
    add_spec_options(sim_parser)
    sim_parser.add_argument("--simulator", choices=["icarus", "verilator"], default="verilator")
    sim_parser.add_argument("--values", type=int, default=1_000_000, help="values to compare (default 10^6)")
    sim_parser.add_argument("--length", type=int, help="words per perturbation (default min(4096, all))")
    sim_parser.add_argument("--workdir", type=Path, help="build and run folder (default out/sim/<config>-<sim>)")
    sim_parser.add_argument("--waves", action="store_true",
                            help="write waves: <workdir>/run/waves.fst (Icarus) or dump.vcd (Verilator)")
    sim_parser.add_argument("--saif", type=Path, help="write the run's switching activity as SAIF (Verilator)")
    sim_parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    sim_parser.set_defaults(run=sim_command)

    flow_parser = commands.add_parser("flow", help="the main job: export and prove the paper's defaults")
    flow_parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    flow_parser.add_argument("--values-icarus", type=int, default=100_000)
    flow_parser.add_argument("--values-verilator", type=int, default=1_000_000)
    flow_parser.set_defaults(run=flow_command)
    add_train_parser(commands)
    return main_parser


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, UsageError, FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
