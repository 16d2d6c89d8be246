"""Generator configuration options shared by every subcommand: the one spec resolver (preset, --spec file,
--manifest, or field by field) and the usage error that makes `pezo` exit with status 2."""
import argparse
import os
import sys
import warnings
from pathlib import Path

from pezo.errors import UsageError
from pezo.reading import read_json
from pezo.golden import PAPER_DEFAULTS, PerturbSpec
from pezo.golden.spec import ALL_FIELDS, FIELDS, SHARED


def count(text):
    """argparse type of a number of things to compare or run: an integer of at least 1 (a check over none would
    pass falsely)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: allowed 1 or more") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range: allowed 1 or more (a check must compare "
                                         f"something)")
    return value


def output_file(text):
    """argparse type of an option naming a file pezo writes: not a folder."""
    if _usable(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: give a file name")
    return Path(text)


def output_folder(text):
    """argparse type of an option naming a folder pezo writes: not a file."""
    if _usable(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file: give a folder")
    return Path(text)


def tool_folder(text):
    """argparse type of a folder that simulators, Yosys or Vivado work in: an output_folder whose path is UTF-8
    (their scripts and makefiles name it in UTF-8 text)."""
    folder = output_folder(text)
    try:
        os.fsencode(folder.absolute()).decode("utf-8")
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"{os.fsencode(text)!r} is not UTF-8: the simulators and synthesis tools "
                                         f"name their work folder in UTF-8 scripts: give a UTF-8 folder name") from None
    return folder


def _usable(text):
    """The path `text`, once the system can look it up (a name over 255 bytes or a path over the system's limit
    cannot be, and would otherwise raise inside argparse)."""
    try:
        Path(text).exists()
    except OSError as error:
        shown = text if len(text) <= 80 else f"{text[:40]}...{text[-20:]} ({len(text):,} characters)"
        raise argparse.ArgumentTypeError(f"{shown}: {error.strerror}") from None
    return Path(text)


def add_spec_options(parser):
    group = parser.add_argument_group("generator configuration (docs/spec.md section 1)")
    group.add_argument("--preset", choices=sorted(PAPER_DEFAULTS), help="a configuration of the PeZO paper")
    group.add_argument("--spec", type=Path, help="a JSON spec file")
    group.add_argument("--manifest", type=Path, help="an exported build's manifest.json (or its directory)")
    group.add_argument("--strategy", choices=sorted(FIELDS))
    for name in ALL_FIELDS:
        group.add_argument("--" + name.replace("_", "-"), type=int, dest=name)


def spec_from_args(args, options=None):
    """The one spec the options describe; field options refine a preset, spec file or strategy's defaults, but
    not a build (--manifest), which is used as it was exported. `options` maps fields to the option names of the
    calling command (default --<field> for every field)."""
    options = options or {name: "--" + name.replace("_", "-") for name in ALL_FIELDS}
    sources = [name for name in ("preset", "spec", "manifest") if getattr(args, name)]
    if len(sources) > 1:
        raise UsageError(f"give at most one of --preset, --spec, --manifest (got {', '.join(sources)})")
    given = [name for name in ALL_FIELDS if getattr(args, name, None) is not None]
    if args.manifest and given:
        raise UsageError(f"{options[given[0]]} would change the configuration of the "
                         f"build in {args.manifest}: with --manifest give no field options (export a new build)")
    if args.manifest:
        from pezo.hw.export import load_manifest
        base = load_manifest(args.manifest).to_dict()
    elif args.spec:
        base = dict(read_json(args.spec, "a generator spec (docs/spec.md section 1)"))
    elif args.preset:
        base = PAPER_DEFAULTS[args.preset].to_dict()
    else:
        base = {"strategy": args.strategy or "otf"}
    if args.strategy and args.strategy != base.get("strategy"):
        raise UsageError(f"--strategy {args.strategy} contradicts the {sources[0]}'s strategy {base.get('strategy')}")
    strategy = base.get("strategy")
    for name in given:
        if name not in FIELDS.get(strategy, ()) + SHARED:
            allowed = [options[field] for field in FIELDS.get(strategy, ()) + SHARED if field in options]
            raise UsageError(f"{options[name]} does not apply to strategy {strategy}: allowed {', '.join(allowed)}")
        base[name] = getattr(args, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = PerturbSpec.from_dict(base)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return spec
