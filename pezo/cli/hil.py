"""`pezo hil`: a small language model trained through the simulated engine (pezo/hil.py), every step compared bit
for bit with the golden trainer."""
import dataclasses

from pezo.errors import UsageError

from .options import add_spec_options, spec_from_args, tool_folder


def add_parser(commands):
    """Register the command on the `pezo` subcommand parsers."""
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


def hil_command(args):
    """Train through the simulated engine and generator; compare every step with the golden trainer."""
    from pezo.files import work_folder
    from pezo import hil
    from pezo.train.config import Config
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
