"""`pezo quality`: reach, scale and correlation of a perturbation source on a model (train/quality.py), before
anything trains."""
import argparse
import json

from pezo import files
from pezo.train import adapters, models, perturbations, quality

from .options import output_file
from .train import add_generator_options, source_from_args


def add_parser(commands):
    """Register `quality` on the `pezo` subcommand parsers."""
    parser = commands.add_parser("quality", help="reach, scale and correlation of a perturbation source on a model",
                                 description=quality.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--perturb", choices=perturbations.NAMES,
                        help="perturbation source (default pezo-otf, or the generator options' source)")
    parser.add_argument("--model", nargs="+", default=[models.DEFAULT_MODEL],
                        help=f"one or more models (default {models.DEFAULT_MODEL}; also "
                             f"{', '.join(models.PAPER_MODELS)} offline, or a Hugging Face name or folder)")
    parser.add_argument("--values", type=int, help="a count of trainable values instead of a model")
    parser.add_argument("--peft", choices=adapters.KINDS, help="LoRA or prefix tuning (default: all weights)")
    for name, default in (("lora_r", 8), ("lora_alpha", 16), ("prefix_tokens", 5), ("top_blocks", 0)):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=default, help=f"default {default}")
    parser.add_argument("--json", type=output_file, help="also write the analysis as JSON to this file")
    add_generator_options(parser)
    parser.set_defaults(run=quality_command)


def quality_command(args):
    perturb, spec = source_from_args(args, default="pezo-otf")
    if args.values is not None and (args.peft or args.top_blocks):
        raise ValueError("--values is the trainable count itself: give --peft or --top-blocks with --model, not "
                         "--values")
    targets = [(None, args.values)] if args.values is not None else [(model, None) for model in args.model]
    source = perturbations.make(perturb, spec=spec)
    rows = []
    for model, values in targets:
        found = quality.analyse(perturb, spec, values, model or models.DEFAULT_MODEL, args.peft, args.lora_r,
                                args.lora_alpha, args.prefix_tokens, args.top_blocks)
        rows.append({"model": model, "peft": args.peft, "top_blocks": args.top_blocks, **found})
    print(f"{perturb}" + (f" {json.dumps(spec.to_dict(), sort_keys=True)}" if spec else ""))
    print(quality.table(rows))
    if args.json:
        files.write_file(args.json, json.dumps({**source.describe(), "rows": rows}, indent=2) + "\n")
    return 0
