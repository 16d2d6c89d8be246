"""Generator configuration options shared by every subcommand: the one spec resolver (preset, --spec file,
--manifest, or field by field) and the usage error that makes `pezo` exit with status 2."""
import json
import sys
import warnings
from pathlib import Path

from pezo.golden import PAPER_DEFAULTS, PerturbSpec

FIELDS = {"otf": ("generators", "width", "seed"), "pool": ("size", "bits", "lanes", "seed")}
SHARED = ("exp_bits", "length_bits")


class UsageError(Exception):
    """Bad command-line input; main() prints it and exits with status 2."""


def add_spec_options(parser):
    group = parser.add_argument_group("generator configuration (docs/spec.md section 1)")
    group.add_argument("--preset", choices=sorted(PAPER_DEFAULTS), help="a configuration of the PeZO paper")
    group.add_argument("--spec", type=Path, help="a JSON spec file")
    group.add_argument("--manifest", type=Path, help="an exported build's manifest.json (or its directory)")
    group.add_argument("--strategy", choices=sorted(FIELDS))
    for name in sorted({field for fields in FIELDS.values() for field in fields} | set(SHARED)):
        group.add_argument("--" + name.replace("_", "-"), type=int, dest=name)


def spec_from_args(args):
    """The one spec the options describe; field options refine a preset, spec file or strategy's defaults."""
    sources = [name for name in ("preset", "spec", "manifest") if getattr(args, name)]
    if len(sources) > 1:
        raise UsageError(f"give at most one of --preset, --spec, --manifest (got {', '.join(sources)})")
    if args.manifest:
        from .hw.export import load_manifest
        base = load_manifest(args.manifest).to_dict()
    elif args.spec:
        base = json.loads(args.spec.read_text())
    elif args.preset:
        base = PAPER_DEFAULTS[args.preset].to_dict()
    else:
        base = {"strategy": args.strategy or "otf"}
    if args.strategy and args.strategy != base.get("strategy"):
        raise UsageError(f"--strategy {args.strategy} contradicts the {sources[0]}'s strategy {base.get('strategy')}")
    strategy = base.get("strategy")
    for name in sorted({field for fields in FIELDS.values() for field in fields} | set(SHARED)):
        value = getattr(args, name)
        if value is None:
            continue
        if name not in FIELDS.get(strategy, ()) + SHARED:
            raise UsageError(f"--{name.replace('_', '-')} does not apply to strategy {strategy}: "
                             f"allowed {', '.join('--' + f.replace('_', '-') for f in FIELDS[strategy] + SHARED)}")
        base[name] = value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = PerturbSpec.from_dict(base)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return spec


def spec_label(spec):
    if spec.strategy == "otf":
        return f"otf-{spec.generators}x{spec.width}"
    return f"pool-{spec.size}x{spec.bits}" + (f"-l{spec.lanes}" if spec.lanes > 1 else "")
