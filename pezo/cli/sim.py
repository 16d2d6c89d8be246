"""`pezo sim`: a configuration, or the ZO engine around it, simulated and compared bit for bit with the golden
model."""
import json
from pathlib import Path

from pezo.errors import UsageError
from pezo.golden.engine import FORMATS

from .options import add_spec_options, count, output_file, spec_from_args, tool_folder


def add_parser(commands):
    """Register the command on the `pezo` subcommand parsers."""
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


def report_line(spec, simulation, result):
    verdict = "PASS" if result.passed else "FAIL"
    return (f"{verdict} {spec.label} on {simulation.simulator}: {result.values:,} values ({result.words:,} "
            f"words) compared bit for bit; simulation {result.run_seconds:.1f} s = "
            f"{result.values_per_second:,.0f} values/s, check {result.check_seconds:.1f} s, "
            f"build {simulation.build_seconds:.1f} s")


def engine_sim_command(args, spec):
    """`pezo sim --engine FMT`: the ZO engine around the configuration's generator, ZO steps over `--values`
    values (three passes a step, updates written back) compared bit for bit with the golden engine."""
    from pezo.files import work_folder
    from pezo.hw.export import load_build
    from pezo.hw.generator import check_buildable
    from pezo.sim import engine_sim
    from pezo.sim.simulate import work_name
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
    from pezo.files import Busy, write_file
    from pezo.hw.export import load_build
    from pezo.sim.simulate import default_workdirs, run_simulation
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
