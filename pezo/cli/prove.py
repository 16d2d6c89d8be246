"""`pezo prove`: a configuration's port contract proven with SymbiYosys (sim/formal.py)."""
from pathlib import Path

from pezo.errors import UsageError

from .options import add_spec_options, spec_from_args, tool_folder


def add_parser(commands):
    """Register the command on the `pezo` subcommand parsers."""
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


def prove_command(args):
    """Prove a configuration's port contract with SymbiYosys (sim/formal.py)."""
    from pezo.files import work_folder
    from pezo.hw.generator import check_buildable
    from pezo.sim.formal import OWNS, WORDS_LIMIT, prove
    from pezo.sim.formal_models import MODELS
    from pezo.sim.simulate import work_name
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
