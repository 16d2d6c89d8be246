"""`pezo sweep`: generator configurations x perturbation sources x ZO methods -> cost, accuracy, Pareto front,
guideline.

    pezo sweep run --preset figure3-pool --out out/sweep/fig3            # a named grid (sweep/presets.py)
    pezo sweep run --grid grid.yaml --out out/sweep/mine --shard 2/8     # a grid file; this worker: shard 2 of 8
    pezo sweep run --perturb pezo-otf --generators 7 15 31 --width 8 --seed 0 1 --steps 200 --out out/sweep/rngs
    pezo sweep report out/sweep/shard1 out/sweep/shard2 --out out/sweep/all   # join shards' points
    pezo sweep report out/sweep/fig3 --out docs/sweep/fig3 --points       # an archive that `run --out` continues
    pezo sweep report out/sweep/protocol --preset protocol-reach --out docs/sweep/protocol-reach --points
                                                                         # one experiment of a shared folder
    pezo sweep report out/sweep/protocol-table3 out/sweep/protocol --preset protocol-table3 protocol-reach \
        --out out/sweep/both                                             # several, from several folders
    pezo sweep run --preset paper --list                                 # the points, without running them

Options named after grid fields (every `pezo train` setting, and the generator fields) take one value or several
(an axis); with --preset or --grid they replace that field everywhere in the grid.
"""
import argparse
import dataclasses
import json
import re
import types
import typing
from pathlib import Path

from pezo.sweep.grid import GRID_FIELDS, SPEC_FIELDS, override, points, read_grid
from pezo.sweep.presets import PRESETS

from .options import output_folder


def add_parser(commands):
    """Register `sweep` on the `pezo` subcommand parsers."""
    parser = commands.add_parser("sweep", help="design-space sweep: cost + accuracy per generator configuration",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run a grid's points (resumable), then report")
    given = run.add_mutually_exclusive_group()
    given.add_argument("--preset", choices=sorted(PRESETS), help="a named grid (sweep/presets.py)")
    given.add_argument("--grid", type=Path, help="a grid file, JSON or YAML (sweep/grid.py)")
    run.add_argument("--out", type=output_folder, help="the sweep folder (new, or one to continue)")
    run.add_argument("--shard", type=_shard, default=(1, 1), metavar="I/N",
                     help="run only every N-th point from the I-th (1 <= I <= N; default 1/1)")
    run.add_argument("--device", default="cpu", help="torch device of the training runs (default cpu)")
    run.add_argument("--keep-weights", action="store_true",
                     help="keep each point's dev-selected weights and checkpoint (default: metrics only)")
    run.add_argument("--list", action="store_true", help="print the points and exit")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    fields = run.add_argument_group("grid fields: one value, or several to cross")
    for name, (kind, several) in _field_types().items():
        fields.add_argument("--" + name.replace("_", "-"), dest="field_" + name, type=kind,
                            nargs="+" if several else None, metavar=name.upper())
    run.set_defaults(run=run_command)
    report = actions.add_parser("report", help="write the report of one or more sweep folders (shards)")
    report.add_argument("folders", type=Path, nargs="+", help="sweep folders (the shards of one sweep, or folders to join)")
    report.add_argument("--out", type=output_folder, help="where the report goes (default: the first folder)")
    report.add_argument("--points", action="store_true",
                        help="also copy the grids and every finished point's records (no weights) into --out, "
                             "which becomes a sweep folder of its own: `pezo sweep run --out` continues it")
    part = report.add_mutually_exclusive_group()
    part.add_argument("--preset", choices=sorted(PRESETS), nargs="+",
                      help="report only these presets' points (experiments of a folder several share; needs --out)")
    part.add_argument("--grid", type=Path, nargs="+", help="report only these grid files' points (needs --out)")
    report.set_defaults(run=report_command)


def run_command(args):
    from transformers.utils import logging
    from pezo.sweep import report, run
    logging.disable_progress_bar()
    grid = _grid(args)
    found = points(grid)
    if args.list:
        for number, point in enumerate(found, 1):
            print(f"{number:3d}  {point.name}  ({point.label})")
        return 0
    if args.out is None:
        raise ValueError("pezo sweep run needs --out (the sweep folder), unless --list")
    index, count = args.shard
    if index > len(found):
        raise ValueError(f"--shard {index}/{count}: the grid has only {len(found)} points, so shard {index} is empty")
    print(f"sweep: {len(found)} points; this worker runs shard {index}/{count} "
          f"({len(found[index - 1::count])} points) into {args.out}")
    finished, held = run.run(grid, found, args.out, args.shard, args.device, args.keep_weights,
                             progress=not args.no_progress)
    done, planned = report.write([args.out], args.out)
    print(f"report of {done} of {planned} finished points in {args.out} (report.md, guideline.md, results.json, "
          f"results.csv, plots/)" + (f"; {len(held)} points were held by other workers" if held else ""))
    return 0


def report_command(args):
    from pezo.sweep import report
    for folder in args.folders:
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: give sweep folders that `pezo sweep run` wrote")
    part = ([PRESETS[name] for name in args.preset] if args.preset else
            [read_grid(path) for path in args.grid] if args.grid else None)
    if part is not None and (args.out is None or args.out.resolve() in {folder.resolve() for folder in args.folders}):
        raise ValueError(f"--{'preset' if args.preset else 'grid'} reports a part of the folders: give an --out of its "
                         f"own, so that the folders keep the report of all their points")
    out = args.out or args.folders[0]
    done, planned = report.write(args.folders, out, with_points=args.points, part=part)
    print(f"report of {done} of {planned} finished points in {out}"
          + (", with their records" if args.points else ""))
    return 0


def _grid(args):
    """The grid the options give: a preset or file, refined by the field options; or the field options alone."""
    fields = {name[len("field_"):]: value for name, value in vars(args).items()
              if name.startswith("field_") and value is not None}
    fields = {name: value[0] if isinstance(value, list) and len(value) == 1 and name != "label_words" else value
              for name, value in fields.items()}
    if args.preset:
        return override(PRESETS[args.preset], fields)
    if args.grid:
        return override(read_grid(args.grid), fields)
    if not fields:
        raise ValueError("pezo sweep run needs a grid: --preset, --grid or grid field options (see --help)")
    return {"grid": [fields]}


def _field_types():
    """{grid field: (argparse type, whether it takes several values)}."""
    from pezo.train.config import Config
    kinds = {field.name: field.type for field in dataclasses.fields(Config)}
    found = {}
    for name in GRID_FIELDS:
        if name in SPEC_FIELDS:
            found[name] = (int, True)
            continue
        kind = kinds[name]
        options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
        if dict in options:
            found[name] = (_json_object, False)
        elif list in options:
            found[name] = (str, True)
        else:
            found[name] = (next(option for option in options if option is not type(None)), True)
    return found


def _json_object(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object (e.g. '{{\"interval\": 20}}')")
    return value


def _shard(text):
    index, _, count = text.partition("/")
    if not (re.fullmatch("[0-9]+", index) and re.fullmatch("[0-9]+", count) and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 1 <= I <= N (e.g. 2/8)")
    return int(index), int(count)
