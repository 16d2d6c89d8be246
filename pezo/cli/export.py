"""`pezo export`: a generator, or the ZO engine around one, as Verilog, ROM images and manifest.json."""
import json

from pezo.golden.engine import FORMATS

from .options import add_spec_options, output_folder, spec_from_args


def add_parser(commands):
    """Register the command on the `pezo` subcommand parsers."""
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


def export_command(args):
    from pezo.hw.export import export
    spec = spec_from_args(args)
    out = export(spec, args.out, name=args.name, force=args.force, engine=args.engine)
    manifest = json.loads((out / "manifest.json").read_text())
    what = f"the ZO engine with {args.engine} weights around {spec.label}" if args.engine else spec.label
    print(f"exported {what} as module {manifest['top']} into {out}/")
    for filename in manifest["files"]:
        print(f"  {filename}")
    print("  manifest.json")
    return 0
