"""A sweep's grid: blocks of settings crossed into points, each one complete, validated training configuration.

    {"train": {"steps": 100, "lr": 1e-5},                              # settings every point shares
     "grid": [{"perturb": "pezo-pool", "size": [255, 1023, 4095]},     # a list of blocks; in each block
              {"perturb": ["gaussian", "pezo-otf"], "seed": [0, 1]}]}  # the lists are crossed

Grid fields are the trainer's settings (train/config.py `Config`: perturb, method, method_args, seed, lr, eps, steps,
peft, ...) and the generator's spec fields (SPEC_FIELDS; `generator_seed` is the spec's seed). A spec field applies
to the sources whose strategy has it and is dropped for the others (a gaussian point ignores `size`), on top of the
source's default spec (pezo-pool: pool-4095x12; pezo-otf and uniform-raw: otf-31x8). Points that come out equal are
kept once, in the order they first appear. A point is named by what it is: its settings' digest (its folder name
ends with it), so a finished point is found again by any grid that holds it.
"""
import dataclasses
import hashlib
import itertools
import json
import re
import warnings

from pezo import reading
from pezo.errors import reason
from pezo.golden.spec import FIELDS, SHARED, PerturbSpec
from pezo.train import perturbations
from pezo.train.config import Config

SPEC_FIELDS = {**{name: name for fields in FIELDS.values() for name in fields if name != "seed"},
               **{name: name for name in SHARED if name != "length_bits"}, "generator_seed": "seed"}
"""Grid field -> spec field: every registered strategy's own fields, the shared ones but length_bits (the width of
a hardware input, which changes no perturbation), and the spec's seed as generator_seed."""
NOT_GRID = ("out", "device", "spec")
"""Config fields a grid does not set: where a run goes, where it runs (neither changes what a point is), and the
spec, which the spec fields build."""
TRAIN_FIELDS = tuple(field.name for field in dataclasses.fields(Config) if field.name not in NOT_GRID)
GRID_FIELDS = TRAIN_FIELDS + tuple(SPEC_FIELDS)
DEFAULTS = {name: getattr(Config(out=""), name) for name in TRAIN_FIELDS}
CONFIG_KINDS = reading.kinds_of(Config)
TOP_LEVEL = ("name", "description", "train", "grid")


@dataclasses.dataclass(frozen=True)
class Point:
    """One training run of a sweep: every Config field but out and device (the spec as a dict, or None)."""
    settings: dict

    @property
    def digest(self):
        """The settings' digest, leaving out those at pezo train's defaults: a setting added to the trainer later
        (at a default that keeps the old behaviour) leaves every point's name as it was."""
        given = {name: value for name, value in self.settings.items() if value != DEFAULTS.get(name)}
        return hashlib.sha256(json.dumps(given, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def label(self):
        """What distinguishes the point to a reader: source (and generator), method, numerics and forward precision
        where they are not the trainer's defaults, seed."""
        source = " ".join(filter(None, [self.settings["perturb"], self.generator]))
        options = [f"{name} {self.settings[name]}" for name in ("numerics", "forward")
                   if self.settings.get(name, DEFAULTS[name]) != DEFAULTS[name]]
        return ", ".join([source, self.settings["method"], *options, f"seed {self.settings['seed']}"])

    @property
    def name(self):
        """The point's folder name: <source>[-<generator>]-<method>-seed<s>-<digest>."""
        parts = [self.settings["perturb"], self.generator, self.settings["method"], f"seed{self.settings['seed']}",
                 self.digest]
        return "-".join(part for part in parts if part)

    @property
    def generator(self):
        """The generator's size as `pezo` labels it, less the strategy the source names (31x8, 4095x12), or None."""
        spec = self.spec
        return spec.dimensions if spec else None

    @property
    def spec(self):
        """The generator spec (PerturbSpec) of a streamed source, else None."""
        return None if self.settings["spec"] is None else _quiet_spec(self.settings["spec"])

    def config(self, out, device="cpu"):
        return Config(out=str(out), device=device, **self.settings)


def points(grid):
    """The validated points of a grid (see the module's docstring), or a ValueError naming the bad value."""
    grid = dict(grid)
    unknown = sorted(set(grid) - set(TOP_LEVEL))
    if unknown:
        raise ValueError(f"grid key {unknown[0]!r} is unknown: allowed {', '.join(TOP_LEVEL)}")
    shared = grid.get("train") or {}
    blocks = grid.get("grid")
    blocks = [blocks] if isinstance(blocks, dict) else blocks
    if not isinstance(shared, dict):
        raise ValueError(f"grid 'train' must map settings to values, not {shared!r}")
    if not blocks or not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise ValueError("grid 'grid' must be a block (field -> value or list of values) or a non-empty list of them")
    for name, value in shared.items():
        _check_field(name, "train")
        if isinstance(value, list) and name != "label_words":
            raise ValueError(f"grid 'train' field {name!r} takes one value, not a list ({value!r}): put axes in "
                             f"'grid'")
    found = {}
    for number, block in enumerate(blocks, 1):
        for settings in _crossed({**shared, **block}, number):
            point = _point(settings, f"block {number} ({_shown(settings)})")
            found.setdefault(point.digest, point)
    return list(found.values())


def override(grid, fields):
    """The grid with `fields` ({grid field: value or list}) replacing that field in 'train' and every block."""
    for name in fields:
        _check_field(name, "option")
    blocks = grid.get("grid")
    blocks = [blocks] if isinstance(blocks, dict) else blocks
    shaped = isinstance(blocks, list) and blocks and all(isinstance(block, dict) for block in blocks)
    if not shaped or not isinstance(grid.get("train") or {}, dict):
        return grid                                         # points() refuses it, naming what a grid needs
    single = {name: value for name, value in fields.items() if not _is_axis(name, value)}
    axes = {name: value for name, value in fields.items() if _is_axis(name, value)}
    train = {name: value for name, value in (grid.get("train") or {}).items() if name not in axes}
    return {**grid, "train": {**train, **single},
            "grid": [{**{k: v for k, v in block.items() if k not in fields}, **axes} for block in blocks]}


def _check_field(name, where):
    if name not in GRID_FIELDS:
        raise ValueError(f"{where} field {name!r} is unknown: allowed {', '.join(GRID_FIELDS)}")


def _is_axis(name, value):
    """Whether a value is a list of values to cross (label_words is itself a list: only a list of lists is)."""
    if name == "label_words":
        return isinstance(value, list) and bool(value) and all(isinstance(item, list) for item in value)
    return isinstance(value, list)


def _crossed(block, number):
    """Every combination of a block's values."""
    names, choices = [], []
    for name, value in block.items():
        _check_field(name, f"block {number}")
        values = value if _is_axis(name, value) else [value]
        if not values:
            raise ValueError(f"block {number} field {name!r} has an empty list: give at least one value")
        names.append(name)
        choices.append(values)
    for combination in itertools.product(*choices):
        yield dict(zip(names, combination))


def _point(settings, where):
    """The Point of one combination of settings, checked as `pezo train` checks its options."""
    train = {name: _typed(name, value, where) for name, value in settings.items() if name in TRAIN_FIELDS}
    fields = {SPEC_FIELDS[name]: value for name, value in settings.items() if name in SPEC_FIELDS}
    config = Config(out="", **train)
    try:
        config.check()
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    config.spec = _spec(config.perturb, fields, where)
    return Point({name: getattr(config, name) for name in ("spec",) + TRAIN_FIELDS})


def _spec(perturb, fields, where):
    """The spec dict of a streamed source: its default with the fields of its strategy; None for seeded sources."""
    if perturb not in perturbations.STREAMED:
        return None
    base = perturbations.default_spec(perturb).to_dict()
    base.update({name: value for name, value in fields.items() if name in FIELDS[base["strategy"]] + SHARED})
    try:
        return _quiet_spec(base).to_dict()
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None


def _quiet_spec(fields):
    """PerturbSpec.from_dict without its warnings: a grid may hold a power-of-two control on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PerturbSpec.from_dict(fields)


def _typed(name, value, where):
    """`value` if it is of the kind of Config's field `name` (an int stands for a float), else a ValueError."""
    kinds = CONFIG_KINDS[name]
    if reading.kind_error(name, value, kinds):
        raise ValueError(f"{where}: {reading.kind_error(name, value, kinds)}")
    return float(value) if float in kinds and isinstance(value, int) else value


def _shown(settings):
    return ", ".join(f"{name}={value}" for name, value in settings.items())


def read_grid(path):
    """A grid file (JSON, or YAML by its .yaml/.yml name) as a dict, or a BadFile naming it."""
    if path.suffix not in (".yaml", ".yml"):
        return reading.read_json(path, "a sweep grid")
    import yaml
    loader = type("GridLoader", (yaml.SafeLoader,), {})
    loader.add_implicit_resolver(            # YAML 1.1 reads 1e-5 as text; a grid means the number
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))
    text = reading.read_text(path, "a sweep grid")
    try:
        grid = yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        raise reading.BadFile(f"{path} is not YAML ({reason(error, 200)}): give a grid file") from None
    except RecursionError:
        raise reading.BadFile(f"{path} nests its YAML too deeply to read: give a grid file") from None
    if not isinstance(grid, dict):
        raise reading.BadFile(f"{path} holds a YAML {type(grid).__name__}, not a sweep grid (a mapping)")
    return grid
