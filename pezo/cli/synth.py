"""`pezo synth`: Yosys cost estimates, the Table 6 comparison, the Vivado/ZCU102 flow and the AXI IP."""
import json
import tempfile
from pathlib import Path

from pezo.golden import PAPER_DEFAULTS
from pezo.golden.engine import FORMATS

from .options import add_spec_options, output_file, output_folder, spec_from_args, tool_folder


def add_parser(commands):
    """Add `synth` and its subcommands to the `pezo` subparsers."""
    synth = commands.add_parser("synth", help="hardware cost: Yosys estimates, Table 6, Vivado flow, AXI IP")
    sub = synth.add_subparsers(dest="synth_command", required=True)

    estimate = sub.add_parser("estimate", help="Yosys xcup estimate of a generator and each of its blocks")
    add_spec_options(estimate)
    estimate.add_argument("--blocks", help="comma-separated blocks (default all but the engines): otf: top, array, "
                          "array_noreplay, scaler, sequencer; pool: top, pool, sequencer; either: engine_fp32, "
                          "engine_bf16 (the ZO engine around the generator), engine_lane_fp32, engine_lane_bf16 (one "
                          "of its lanes), scalar_decoder (the decoder of c or d its lanes share), registers_engine, "
                          "registers_generator (the AXI4-Lite register blocks)")
    estimate.add_argument("--json", type=output_file, help="also write the estimates as JSON to this file")
    estimate.add_argument("--jobs", type=int, help="parallel Yosys runs (default: one per core)")
    estimate.set_defaults(run=estimate_command)

    table6 = sub.add_parser("table6", help="the PeZO paper's Table 6, re-measured with Yosys")
    table6.add_argument("--lanes", type=int, default=1024, help="Gaussian lanes of the MeZO baseline (1024)")
    table6.add_argument("--banks", type=int, default=5, help="banks of the banked 4095x12 pool (5)")
    table6.add_argument("--json", type=output_file, help="also write the table as JSON to this file")
    table6.add_argument("--jobs", type=int, help="parallel Yosys runs (default: one per core)")
    table6.set_defaults(run=table6_command)

    vivado = sub.add_parser("vivado", help="write (and run, if vivado is on PATH) the ZCU102 Vivado flow")
    vivado.add_argument("--out", type=tool_folder, default=Path("out") / "vivado", help="folder (default out/vivado)")
    vivado.add_argument("--force", action="store_true",
                        help="replace a folder pezo wrote (refused if it holds anything else)")
    vivado.add_argument("--demo", choices=sorted(PAPER_DEFAULTS), default="otf-31x8",
                        help="the demonstrator's generator (default otf-31x8)")
    vivado.add_argument("--saif-values", type=int, default=100_000,
                        help="values simulated on Verilator for each SAIF (default 10^5; 0: no SAIF, vectorless "
                             "power)")
    vivado.set_defaults(run=vivado_command)

    ip = sub.add_parser("ip", help="write the AXI IP (AXI4-Stream data, AXI4-Lite registers; Verilog, IP-XACT "
                        "component.xml for Vivado's IP catalog, FuseSoC core, the processor's driver) of a "
                        "configuration")
    add_spec_options(ip)
    ip.add_argument("--clock-mhz", type=float, default=100.0,
                    help="the clock frequency the IP declares to IP Integrator (FREQ_HZ; default 100)")
    ip.add_argument("--out", type=output_folder, required=True, help="output folder (must be new or empty)")
    ip.add_argument("--force", action="store_true",
                    help="replace a folder pezo wrote (refused if it holds anything else)")
    ip.add_argument("--engine", choices=list(FORMATS),
                    help="the ZO engine around the generator, with weights in this format (default: the generator)")
    ip.set_defaults(run=ip_command)


def _jobs(args):
    from pezo.errors import UsageError
    if args.jobs is not None and not 1 <= args.jobs <= 64:
        raise UsageError(f"--jobs {args.jobs} is out of range: allowed 1..64")
    return args.jobs


def _write_json(path, record):
    from pezo.files import write_file
    write_file(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def estimate_command(args):
    from pezo.synth.designs import blocks
    from pezo.synth.estimate import CAVEAT, estimate_all, markdown
    spec = spec_from_args(args)
    names = [name.strip() for name in args.blocks.split(",")] if args.blocks else None
    designs = blocks(spec, names)
    jobs = _jobs(args)
    designs, built = _build_top(args.manifest, spec, designs) if args.manifest else (designs, None)
    estimates = estimate_all(designs, jobs)
    print(markdown(estimates.values()))
    if built:
        print(f"\n{built}: the build's own Verilog, as its manifest records; the blocks are generated from its spec")
    print(f"\n{CAVEAT}")
    if args.json:
        _write_json(args.json, {"spec": spec.to_dict(), "caveat": CAVEAT,
                                "estimates": [item.to_dict() for item in estimates.values()]})
    return 0


def _build_top(manifest, spec, designs):
    """`designs` with the build's own top module in place of the generated one, and that Verilog's path (None
    where the top is not among the designs)."""
    from pezo.hw.export import load_build
    from pezo.errors import UsageError
    from pezo.synth.designs import design_name
    build = load_build(manifest)
    top, files = build.top, build.files
    base = design_name(spec, "top" if build.engine is None else f"engine_{build.engine}")
    if base not in designs:
        if build.engine:
            raise UsageError(f"--manifest {manifest} is the ZO engine's build: give --blocks engine_{build.engine}")
        return designs, None
    replaced = {(top if name == base else name): (files[f"{top}.v"].decode() if name == base else build)
                for name, build in designs.items()}
    return replaced, (manifest if manifest.is_dir() else manifest.parent) / f"{top}.v"


def table6_command(args):
    from pezo.synth.table6 import markdown, measure
    if not 1 <= args.lanes <= 65536:
        raise ValueError(f"--lanes {args.lanes} is out of range: allowed 1..65536")
    table = measure(args.lanes, args.banks, _jobs(args))
    print(markdown(table))
    if args.json:
        _write_json(args.json, table)
    return 0


def vivado_command(args):
    from pezo.files import check_replaceable
    from pezo.errors import UsageError
    from pezo.synth.vivado import run_flow, write_flow
    if args.saif_values < 0:
        raise UsageError(f"--saif-values {args.saif_values} must be at least 0")
    check_replaceable(args.out, args.force)
    saifs = {}
    if args.saif_values:
        with tempfile.TemporaryDirectory(prefix="pezo-saif-") as work:
            for label, spec in PAPER_DEFAULTS.items():
                saifs[label] = _simulate_saif(spec, args.saif_values, Path(work) / label)
            saifs["demo"] = saifs[args.demo]
            folder = write_flow(args.out, PAPER_DEFAULTS, PAPER_DEFAULTS[args.demo], saifs, force=args.force)
    else:
        folder = write_flow(args.out, PAPER_DEFAULTS, PAPER_DEFAULTS[args.demo], force=args.force)
    print(f"wrote the Vivado flow for {', '.join(PAPER_DEFAULTS)} (out of context at 500 and 700 MHz) and the "
          f"ZCU102 demonstrator ({args.demo}) into {folder}/, "
          + (f"with SAIF activity from {args.saif_values:,} simulated values each" if saifs
             else "without SAIF (vectorless power)"))
    status, message = run_flow(folder)
    print(message)
    return 1 if status else 0


def _simulate_saif(spec, values, workdir):
    """Run the ZO pattern of `values` values on Verilator with SAIF on; returns the SAIF file (checked run)."""
    from pezo.sim.simulate import run_simulation
    from pezo.errors import ToolFailed
    saif = workdir.with_suffix(".saif")
    _, result, _ = run_simulation(spec, "verilator", values, workdir, saif=saif)
    if not result.passed:
        raise ToolFailed(f"the SAIF run of {spec.to_json()} is not bit-exact: {result.mismatch}")
    return saif


def ip_command(args):
    from pezo.hw.ip import write_ip
    from pezo.errors import UsageError
    if not 0.001 <= args.clock_mhz <= 10_000:
        raise UsageError(f"--clock-mhz {args.clock_mhz:g} is out of range: allowed 0.001 .. 10000")
    spec = spec_from_args(args)
    clock_hz = round(args.clock_mhz * 1e6)
    top, streams = write_ip(spec, args.out, force=args.force, clock_hz=clock_hz, engine=args.engine)
    widths = ", ".join(f"{name} {bits}-bit tdata" for name, bits in streams.items())
    print(f"wrote the AXI IP {top} ({widths}; registers on S_AXI_CTRL; declared at {args.clock_mhz:g} MHz) into "
          f"{args.out}/: {top}.v, component.xml (IP-XACT: add the folder to Vivado's IP repositories), {top}.core, "
          f"pezo_host/ (the processor's driver)")
    return 0
