"""`pezo train`: few-shot ZO fine-tuning of a language model with any perturbation source.

    pezo train --task rt --k 16 --perturb pezo-otf --steps 1000 --out out/train/otf
    pezo train --manifest build/otf --steps 1000 --out out/train/hw      # the exact generator of a hardware build
    pezo train --out out/train/otf --resume --steps 2000                  # continue a run bit-identically
    pezo train --method zo-adam --peft lora --lr 1e-4 --eps 1e-2 --perturb pezo-pool --out out/train/adam
"""
import argparse
import dataclasses
import json
import sys
from pathlib import Path

from pezo.golden import PAPER_DEFAULTS
from pezo.golden.spec import ALL_FIELDS
from pezo.train import adapters, distributed, engine, perturbations, tasks, zo
from pezo.train.config import SCHEDULES, Config, check_layout
from pezo.train.loop import carry_out

from .options import output_folder, spec_from_args

SPEC_OPTIONS = tuple(name for name in ALL_FIELDS if name not in ("seed", "length_bits"))
"""The generator fields `pezo train` takes as options (the spec's seed is --generator-seed)."""


def add_parser(commands):
    """Register `train` on the `pezo` subcommand parsers."""
    defaults = Config(out="")
    parser = commands.add_parser("train", help="ZO fine-tuning (MeZO or PeZO perturbations) of a language model",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=output_folder, required=True, help="run folder (new or empty, or the one to resume)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out (only --steps and --device may change)")
    parser.add_argument("--task", help=f"prompt template and label words (default {defaults.task})")
    parser.add_argument("--template", help="a custom prompt with {text} (and {mask} for masked LMs)")
    parser.add_argument("--label-words", nargs="+", help="the custom prompt's label words, one per class")
    parser.add_argument("--data", help="a CSV or JSONL file with text,label (default: Rotten Tomatoes)")
    add_model_options(parser)
    parser.add_argument("--answer-row", action="store_true", default=None,
                        help="with --top-blocks: the last block computes the answer position only (keys and values "
                             "at every position), about 1.5 times faster, equal to the whole block up to rounding")
    parser.add_argument("--packed", action="store_true", default=None,
                        help="with --top-blocks: a batch's prompts run end to end, each attending to itself, instead "
                             "of left-padded (no padding multiplied), equal to the padded batch up to rounding")
    parser.add_argument("--perturb", choices=perturbations.NAMES,
                        help="perturbation source (default gaussian, or the --manifest's generator)")
    for name in ("k", "test_size", "steps", "batch_size", "eval_every", "seed"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, help=f"default {getattr(defaults, name)}")
    for name in ("lr", "eps", "weight_decay"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, help=f"default {getattr(defaults, name)}")
    parser.add_argument("--method", choices=list(zo.METHODS), help=f"ZO method (default {defaults.method})")
    parser.add_argument("--schedule", choices=SCHEDULES, help=f"lr schedule (default {defaults.schedule})")
    parser.add_argument("--compensate-scale", action="store_true", default=None,
                        help="divide lr by the source's E[u^2] and eps by its square root, so that sources run at "
                             "equal effective step size (pezo quality gives E[u^2]; default off, as MeZO)")
    parser.add_argument("--device", help="torch device of the model and its perturbations: cpu (default), cuda, "
                        "cuda:1, ... (on --resume it may change)")
    parser.add_argument("--forward", choices=list(tasks.FORWARDS),
                        help="forward passes in fp32 (default) or bf16 autocast (the weights stay fp32)")
    parser.add_argument("--numerics", choices=list(engine.NUMERICS),
                        help="MeZO's in-place passes (default), or the ZO engine's perturb on read and update "
                             "(docs/spec.md section 11) with fp32 or bf16 weights (zo-sgd, eps a power of two)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--perturbation-parallel", type=int, default=1, metavar="P",
                        help="under torchrun: ranks that share a step's queries (the other factor of the ranks is "
                             "data parallel; default 1)")
    parser.add_argument("--backend", choices=distributed.BACKENDS, default="auto",
                        help="under torchrun: torch.distributed backend (default auto: nccl with --device cuda, gloo "
                             "otherwise)")
    methods = parser.add_argument_group("arguments of the ZO methods (docs/methods.md); each applies to the "
                                        "methods named")
    for name, variants in method_arguments().items():
        helps = [f"{argument.help} ({', '.join(owners)}; default {argument.default})" for argument, owners in variants]
        methods.add_argument("--" + name.replace("_", "-"), dest="method_" + name, type=variants[0][0].parse,
                             help="; ".join(helps).replace("%", "%%"))
    add_generator_options(parser)
    parser.set_defaults(run=train_command)


def add_model_options(parser):
    """--model and the PEFT options: which values are trained (shared with `pezo quality`)."""
    defaults = Config(out="")
    parser.add_argument("--model", help=f"'{defaults.model}' (default, offline) or a Hugging Face name or folder")
    parser.add_argument("--peft", choices=adapters.KINDS, help="LoRA or prefix tuning (default: all weights)")
    for name in ("lora_r", "lora_alpha", "prefix_tokens"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, help=f"default {getattr(defaults, name)}")
    parser.add_argument("--top-blocks", type=int, help="train only the top N transformer blocks (and the final "
                        "norm, or LoRA on those blocks), the frozen part computed once per example (train/top.py; "
                        "default 0: the whole model)")


def add_generator_options(parser):
    """The generator of a streamed source, as a preset, spec file, build or field by field (shared with
    `pezo quality`); source_from_args reads them."""
    group = parser.add_argument_group("generator of pezo-otf, pezo-pool and uniform-raw (docs/spec.md section 1)")
    group.add_argument("--preset", help="a configuration of the PeZO paper (otf-31x8, otf-31x14, pool-4095x12)")
    group.add_argument("--spec", type=Path, help="a JSON spec file")
    group.add_argument("--manifest", type=Path, help="an exported build's manifest.json (or its folder)")
    for name in SPEC_OPTIONS:
        group.add_argument("--" + name.replace("_", "-"), type=int)
    group.add_argument("--generator-seed", type=int, help="the spec's seed (otf: first LFSR state; pool: fill)")


def train_command(args):
    from transformers.utils import logging
    logging.disable_progress_bar()
    from pezo.errors import ToolFailed, reason
    config = None if args.resume else config_from_args(args)
    layout = _layout(args, config.device if config else args.device or "cpu")
    try:
        if args.resume:                     # rank 0 reads the run's config (the others may not see its folder)
            config = distributed.from_writer(layout, lambda: _resumed_config(args))
        check_layout(config, layout)        # on every rank, before the model is loaded
        run, summary = carry_out(config, args.resume, layout, progress_bar=not args.no_progress)
    except RuntimeError as error:          # a collective whose peer is gone (distributed.lost), or a failure
        if not layout.ranked or not distributed.lost(error):
            raise
        kept = args.out / "checkpoint"
        raise ToolFailed(f"rank {layout.rank} of {layout.world}: another rank stopped or cannot be reached "
                         f"({reason(error)})"
                         + (f"; the last checkpoint is kept in {kept}" if kept.exists() else "")) from None
    finally:
        if layout.ranked:
            distributed.stop()
    if run.writer:
        print(json.dumps({key: summary[key] for key in ("method", "perturb", "seed", "steps_done", "best_step",
                                                        "best_dev_accuracy", "test_accuracy", "train_seconds")}))
    if summary.get("ranks_agree") is False:
        raise ToolFailed(f"rank {layout.rank}: the ranks' weights differ after training (a bug: please report it)")
    if summary["stopped"]:
        if run.writer:
            print(f"error: {summary['stopped']}", file=sys.stderr)
        return 1
    return 0


def _layout(args, device):
    """The rank layout under torchrun (distributed.SOLO in a plain process), its backend chosen for `device`."""
    if not distributed.launched():
        for option, value, default in (("--perturbation-parallel", args.perturbation_parallel, 1),
                                       ("--backend", args.backend, "auto")):
            if value != default:
                raise ValueError(f"{option} {value} needs ranks: launch with torchrun --nproc-per-node N -m "
                                 f"pezo.cli train ...")
        return distributed.SOLO
    return distributed.start(args.perturbation_parallel, device, args.backend)


def config_from_args(args):
    """The Config the options describe: the defaults, refined by every option given."""
    fields = {field.name for field in dataclasses.fields(Config)}
    given = {name: value for name, value in vars(args).items() if name in fields and value is not None}
    config = Config(**{**given, "out": str(args.out)})
    config.method_args = _method_args(args, config.method)
    config.perturb, spec = source_from_args(args, config.perturb)
    config.spec = spec and spec.to_dict()
    return config


def source_from_args(args, default="gaussian"):
    """(perturbation source name, generator spec or None) the options give: --perturb, else the generator's
    source when generator options are given, else `default`."""
    spec = _spec_from_args(args, args.perturb)
    if spec is None:
        return args.perturb or default, None
    return args.perturb or spec.source, spec


def _spec_from_args(args, perturb):
    """The generator spec the options give (None when none is given), via `pezo`'s shared spec parsing."""
    fields = {name: getattr(args, name) for name in SPEC_OPTIONS}
    if not (args.preset or args.spec or args.manifest or args.generator_seed is not None
            or any(value is not None for value in fields.values())):
        return None
    if perturb in perturbations.SEEDED:
        raise ValueError(f"--perturb {perturb} takes no generator options: they apply to "
                         f"{', '.join(perturbations.STREAMED)}")
    if args.preset and args.preset not in PAPER_DEFAULTS:
        raise ValueError(f"--preset {args.preset} is unknown: allowed {', '.join(PAPER_DEFAULTS)}")
    given = args.preset or args.spec or args.manifest
    strategy = None if given else perturbations.SPECS[perturb or "pezo-otf"].strategy
    namespace = argparse.Namespace(preset=args.preset, spec=args.spec, manifest=args.manifest, strategy=strategy,
                                   seed=args.generator_seed, length_bits=None, **fields)
    options = {name: "--" + name.replace("_", "-") for name in SPEC_OPTIONS} | {"seed": "--generator-seed"}
    return spec_from_args(namespace, options)


def _resumed_config(args):
    """The recorded config of the run in --out; only --steps may change, and not under a decaying schedule (its
    horizon is the run's steps)."""
    ignored = {"out", "resume", "steps", "device", "no_progress", "run", "command", "perturbation_parallel",
               "backend"}
    others = sorted(name for name, value in vars(args).items()
                    if name not in ignored and value is not None and value is not False)
    if others:
        named = ", ".join("--" + name.removeprefix("method_").replace("_", "-") for name in others)
        raise ValueError(f"--resume takes the run's recorded settings: only --steps and --device may be given, "
                         f"not {named}")
    from pezo.reading import read_json
    path = args.out / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"--resume: {path} does not exist (no run to resume in {args.out})")
    config = Config.from_record(read_json(path, "a run's config"), path)
    if args.steps is not None and args.steps != config.steps and config.schedule != "constant":
        raise ValueError(f"--steps {args.steps}: a run with the {config.schedule} schedule decays over its "
                         f"{config.steps} steps, so its resume keeps them (allowed --steps {config.steps})")
    if args.steps is not None:
        config.steps = args.steps
    if args.device is not None:
        config.device = args.device
    config.out = str(args.out)          # the run is where it is now, not where it was started
    return config


def method_arguments():
    """Every method argument once: name -> [(Argument, names of the methods that take it)], one entry per distinct
    meaning (methods may give one name different defaults and help; its values are of one type)."""
    found = {}
    for method in zo.METHODS.values():
        for name, argument in method.arguments.items():
            variants = found.setdefault(name, [])
            same = next((owners for known, owners in variants if known == argument), None)
            if same is None:
                variants.append((argument, [method.name]))
            else:
                same.append(method.name)
    return found


def _method_args(args, method):
    given = {name[len("method_"):]: value for name, value in vars(args).items()
             if name.startswith("method_") and value is not None}
    for name in given:
        if name not in zo.METHODS[method].arguments:
            allowed = ", ".join("--" + n.replace("_", "-") for n in zo.METHODS[method].arguments) or "none"
            raise ValueError(f"--{name.replace('_', '-')} does not apply to method {method}: allowed {allowed}")
    return given
