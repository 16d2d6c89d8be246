"""Export a generator, or the ZO engine around one: Verilog, memory images and a manifest of everything derived
from the spec.

`export` writes into a fresh directory (docs/spec.md section 10):

- `<name>.v`, the top module `<name>` (a generator's ports `clk`, `rst`, `o__payload`, `o__valid`, `o__ready`,
  `length`, `next`, `replay`, `done`, `busy`; the engine's those of hw/engine.py);
- the ROM contents in `$readmemh` format (`<name>_lut.hex` for otf, `<name>_bank<j>.hex` for the pool), for
  tools that load them; the Verilog initialises its memories itself;
- `manifest.json`: the spec, file hashes, payload layout, ports and the derived constants; for the engine, its
  weight format, latency and modes under `engine`.

`load_manifest` rebuilds the spec from a manifest and refuses one whose derived constants disagree with it.
"""
import collections
import hashlib
import json
import re
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib.wiring import In

from pezo import __version__
from pezo.files import check_replaceable, write_folder
from pezo.reading import read_json
from pezo.golden.engine import FORMATS
from pezo.golden.spec import PerturbSpec

from .engine import E_BITS, PERTURB_MINUS, PERTURB_PLUS, UPDATE, Engine, engine_signature
from .engine_lane import LATENCY
from .generator import GENERATORS, check_buildable, generator, generator_signature
from .payload import payload_layout
from .verilog import check_module_name, emit

MANIFEST = "manifest.json"
RECORDED = ("pezo_version", "spec", "top", "files")
"""The manifest's keys that are not derived from the spec (the derived ones are checked against it)."""
Build = collections.namedtuple("Build", "spec top files engine")
"""An exported build: its spec, top module name, {filename: bytes} and the engine's weight format (None for a
generator's build)."""


class ManifestError(ValueError):
    """A manifest that does not match the spec it records (or the files beside it)."""


def default_name(spec, engine=None):
    """Top module name, e.g. pezo_otf_31x8, pezo_otf_31x8_reload, pezo_pool_4095x12, pezo_pool_4095x12_l5; the
    engine's e.g. pezo_engine_fp32_pool_4095x12_l5."""
    name = spec.label.replace("-", "_")
    return f"pezo_{name}" if engine is None else f"pezo_engine_{engine}_{name}"


def check_engine(engine):
    """`engine` when it is None (no engine) or a weight format the engine has; a ValueError naming it otherwise."""
    if engine is not None and engine not in FORMATS:
        raise ValueError(f"engine format {engine!r} is unknown: allowed {', '.join(FORMATS)}")
    return engine


def export(spec, out_dir, name=None, force=False, engine=None):
    """Write the generator for `spec` (a spec or its dict) into `out_dir`, or with `engine` ("fp32" or "bf16") the
    ZO engine with that weight format around it; returns the directory as a Path.

    Everything is rendered in memory and written through pezo.files, so an error leaves no partial output; a
    non-empty `out_dir` is only replaced with `force=True`, and only when pezo wrote all it holds.
    """
    spec = spec if isinstance(spec, PerturbSpec) else PerturbSpec.from_dict(spec)
    check_engine(engine)
    name = check_module_name(default_name(spec, engine) if name is None else name)
    check_buildable(spec)
    check_replaceable(out_dir, force)
    files = _memory_files(spec, name)
    top = generator(spec) if engine is None else Engine(spec, engine)
    files[f"{name}.v"] = emit(top, name).encode()
    manifest = {
        "pezo_version": __version__,
        "spec": spec.to_dict(),
        "top": name,
        "files": {filename: _sha256(content) for filename, content in sorted(files.items())},
        **_derived(spec, name, engine),
    }
    files[MANIFEST] = (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()
    return write_folder(out_dir, files, force)


def load_manifest(path):
    """The spec recorded in a manifest (a manifest.json or its directory), after checking that the constants
    derived from it, the memory images' hashes and the hashes of the files present beside it all agree."""
    return _read_manifest(path)[0]


def load_build(path):
    """The Build of an exported build: every file its manifest lists, each present and matching its sha256, so
    that what is used is exactly what was exported (and read once)."""
    spec, manifest, path, files = _read_manifest(path)
    for filename in manifest["files"]:
        if filename not in files:
            raise ManifestError(f"{path}: {path.parent / filename} is missing: a build is used only whole")
    if f"{manifest['top']}.v" not in files:
        raise ManifestError(f"{path}: its files do not list the top module's Verilog {manifest['top']}.v")
    return Build(spec, manifest["top"], files, _engine_format(manifest, path))


def _read_manifest(path):
    """(spec, manifest, its path, {filename: bytes} of the listed files present), all checked."""
    path = Path(path)
    path = path / MANIFEST if path.is_dir() else path
    manifest = read_json(path, "an exported build's manifest")
    for key, kind in (("spec", dict), ("top", str), ("files", dict)):
        if not isinstance(manifest.get(key), kind):
            raise ManifestError(f"{path}: no {key!r} {kind.__name__}: not the manifest.json of a pezo export")
    check_module_name(manifest["top"])
    for filename in manifest["files"]:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.]*", filename):
            raise ManifestError(f"{path}: files lists {filename!r}: a build's files are plain names beside it")
    spec = PerturbSpec.from_dict(manifest["spec"])
    name = manifest["top"]
    derived = _derived(spec, name, _engine_format(manifest, path))
    unknown = sorted(set(manifest) - set(derived) - set(RECORDED))
    if unknown:
        raise ManifestError(f"{path}: {unknown[0]!r} is not a key of this build's manifest")
    expected = {**derived, **{f"files[{filename!r}]": _sha256(content)
                              for filename, content in _memory_files(spec, name).items()}}
    recorded = {**manifest, **{f"files[{filename!r}]": digest for filename, digest in manifest["files"].items()}}
    for key, value in expected.items():
        where, found, wanted = _difference(key, recorded.get(key), value)
        if where is not None:
            raise ManifestError(f"{path}: {where} is {_short(found)} but the spec gives {_short(wanted)}")
    files = {filename: (path.parent / filename).read_bytes() for filename in manifest["files"]
             if (path.parent / filename).is_file()}
    for filename, content in files.items():
        if _sha256(content) != manifest["files"][filename]:
            raise ManifestError(f"{path}: {path.parent / filename} does not match its sha256 in the manifest")
    return spec, manifest, path, files


def _engine_format(manifest, path):
    """The engine's weight format a manifest records, None where it records no engine; a ManifestError where its
    `engine` is not an object with a known format."""
    if "engine" not in manifest:
        return None
    engine = manifest["engine"]
    if not (isinstance(engine, dict) and isinstance(engine.get("format"), str) and engine["format"] in FORMATS):
        raise ManifestError(f"{path}: engine is {_short(engine)}: an engine build records its format, one of "
                            f"{', '.join(FORMATS)}")
    return engine["format"]


def _derived(spec, name, engine=None):
    """Everything the manifest records that follows from the spec, the top module's name and the engine's format
    (None for a generator's build)."""
    strategy = GENERATORS[spec.strategy].constants(spec, name)
    return {
        "period_words": spec.period_words,
        "lanes": spec.lanes,
        "mantissa_bits": spec.mantissa_bits,
        "exp_bits": spec.exponent_bits,
        "payload": _payload(spec),
        "ports": _ports(spec, engine),
        spec.strategy: strategy,
        **({} if engine is None else {"engine": _engine_constants(engine)}),
    }


def _engine_constants(engine):
    """The engine's weight format and how its ports are used (docs/spec.md section 11)."""
    fmt = FORMATS[engine]
    return {"format": engine, "value_bits": fmt.bits, "exponent_bits": fmt.exponent_bits,
            "precision": fmt.precision, "latency": LATENCY, "e_bits": E_BITS,
            "modes": {"perturb_plus": PERTURB_PLUS, "perturb_minus": PERTURB_MINUS, "update": UPDATE}}


def _payload(spec):
    """Bit offsets of the payload fields, least significant bit first (docs/spec.md section 8)."""
    layout = payload_layout(spec)
    mantissas, exponent, last = layout["mantissas"], layout["exponent"], layout["last"]
    return {
        "width": layout.size,
        "mantissas": {"offset": mantissas.offset, "lanes": mantissas.shape.length,
                      "bits": Shape.cast(mantissas.shape.elem_shape).width, "signed": True},
        "exponent": {"offset": exponent.offset, "bits": exponent.width, "signed": True},
        "last": {"offset": last.offset, "bits": last.width, "signed": False},
    }


def _ports(spec, engine=None):
    """Verilog ports of the top module: the clock domain's, then the signature's (the generator's or the
    engine's)."""
    clock = [{"name": "clk", "direction": "in", "width": 1}, {"name": "rst", "direction": "in", "width": 1}]
    signature = generator_signature(spec) if engine is None else engine_signature(spec, engine)
    return clock + signature_ports(signature)


def signature_ports(signature):
    """The Verilog ports of a component's signature: [{name (paths joined by `__`), direction, width}]."""
    return [{"name": "__".join(path), "direction": "in" if member.flow == In else "out",
             "width": Shape.cast(value.shape()).width}
            for path, member, value in signature.flatten(signature.create())]


def _memory_files(spec, name):
    """{filename: $readmemh text} of every ROM, one hex entry per line, two's complement."""
    return {filename: _readmemh(entries, bits)
            for filename, (entries, bits) in GENERATORS[spec.strategy].memory_files(spec, name).items()}


def _readmemh(values, bits):
    digits, mask = -(-bits // 4), (1 << bits) - 1
    return "".join(f"{int(value) & mask:0{digits}x}\n" for value in values).encode()


def _sha256(content):
    return hashlib.sha256(content).hexdigest()


def _difference(key, found, wanted):
    """(the innermost key path where `found` differs from `wanted`, the two values there), or (None, ...) where
    they are equal as JSON (1 is not true)."""
    if isinstance(found, dict) and isinstance(wanted, dict) and set(found) == set(wanted):
        for name in wanted:
            inner = _difference(f"{key}[{name!r}]", found[name], wanted[name])
            if inner[0] is not None:
                return inner
        return None, found, wanted
    if isinstance(found, list) and isinstance(wanted, list) and len(found) == len(wanted):
        for index, (a, b) in enumerate(zip(found, wanted)):
            inner = _difference(f"{key}[{index}]", a, b)
            if inner[0] is not None:
                return inner
        return None, found, wanted
    same = json.dumps(found, sort_keys=True) == json.dumps(wanted, sort_keys=True)
    return (None if same else key), found, wanted


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
