"""`pezo flow`: the main job: the PeZO paper's default generators exported, and those very files simulated bit for
bit on both simulators."""
import time
from pathlib import Path

from pezo.golden import PAPER_DEFAULTS

from .options import count, tool_folder
from .sim import report_line


def add_parser(commands):
    """Register the command on the `pezo` subcommand parsers."""
    flow_parser = commands.add_parser("flow", help="the main job: export and prove the paper's defaults")
    flow_parser.add_argument("--out", type=tool_folder, default=Path("out"), help="output folder (default out/)")
    flow_parser.add_argument("--values-icarus", type=count, default=100_000)
    flow_parser.add_argument("--values-verilator", type=count, default=1_000_000)
    flow_parser.set_defaults(run=flow_command)


def flow_command(args):
    """Export every paper default and prove those very files bit-exact on both simulators."""
    from pezo.hw.export import export, load_build
    from pezo.sim.runner import SIMULATORS
    from pezo.sim.simulate import run_simulation
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
