"""Verilog conversion and `export`: the port contract, deterministic output, the manifest and its checks."""
import hashlib
import json
import os
import re
import sys

import numpy as np
import pytest

from pezo.golden import OtfSpec, PoolSpec, SpecError, Stream
from pezo.golden.lfsr import TAPS, feedback_mask
from pezo.golden.otf import exponent_table, lane_seeds
from pezo.golden.pool import pool_table
from pezo.hw import export as export_module
from pezo.hw.engine import Engine
from pezo.hw.export import ManifestError, export, load_build, load_manifest
from pezo.hw.generator import generator
from pezo.hw.verilog import emit


CONVERTED = [OtfSpec(generators=31, width=8), OtfSpec(generators=31, width=14), OtfSpec(generators=3, width=4),
             OtfSpec(generators=7, width=12), OtfSpec(generators=63, width=16), PoolSpec(size=4095, bits=12),
             PoolSpec(size=4095, bits=12, lanes=5), PoolSpec(size=255, bits=8, lanes=15),
             PoolSpec(size=65535, bits=16, lanes=3)]


def verilog_ports(text, module):
    """{name: (direction, width)} of a module's port declarations in Amaranth's Verilog output."""
    body = text[text.index(f"module {module}("):text.index("endmodule")]
    return {name: (direction, int(msb or 0) + 1)
            for direction, msb, name in re.findall(r"^\s*(input|output) (?:\[(\d+):0\] )?(\w+);", body, re.M)}


@pytest.mark.parametrize("spec", CONVERTED, ids=str)
def test_converts_with_port_contract(spec):
    text = emit(generator(spec), "top")
    width = spec.lanes * spec.mantissa_bits + spec.exponent_bits + 1
    assert verilog_ports(text, "top") == {
        "clk": ("input", 1), "rst": ("input", 1), "o__payload": ("output", width), "o__valid": ("output", 1),
        "o__ready": ("input", 1), "length": ("input", spec.length_bits), "next": ("input", 1),
        "replay": ("input", 1), "done": ("output", 1), "busy": ("output", 1)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Two exports of each strategy, and of an engine around a pool, into different directories."""
    root = tmp_path_factory.mktemp("export")
    specs = {"otf": (OtfSpec(generators=7, width=5, seed=9), None),
             "pool": (PoolSpec(size=21, bits=6, lanes=3, seed=5), None),
             "engine": (PoolSpec(size=21, bits=6, lanes=3, seed=5), "bf16")}
    return {key: (spec, export(spec, root / key / "a", engine=engine), export(spec, root / key / "b", engine=engine))
            for key, (spec, engine) in specs.items()}


@pytest.mark.parametrize("key", ["otf", "pool", "engine"])
def test_export_is_deterministic_and_relocatable(exported, key):
    _, first, second = exported[key]
    names = sorted(os.listdir(first))
    assert names == sorted(os.listdir(second))
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    text = next(first.glob("*.v")).read_text()
    for path in (str(first.parent.parent), os.getcwd(), sys.prefix, "src ="):
        assert path not in text


@pytest.mark.parametrize("key", ["otf", "pool", "engine"])
def test_manifest(exported, key):
    spec, directory, _ = exported[key]
    manifest = json.loads((directory / "manifest.json").read_text())
    top = manifest["top"]
    assert sorted(manifest["files"]) == sorted(name for name in os.listdir(directory)
                                               if name not in ("manifest.json", ".pezo.json"))
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
    assert manifest["spec"] == spec.to_dict() and manifest["period_words"] == spec.period_words
    lanes, bits, exp_bits = spec.lanes, spec.mantissa_bits, manifest["exp_bits"]
    assert manifest["payload"] == {
        "width": lanes * bits + exp_bits + 1,
        "mantissas": {"offset": 0, "lanes": lanes, "bits": bits, "signed": True},
        "exponent": {"offset": lanes * bits, "bits": exp_bits, "signed": True},
        "last": {"offset": lanes * bits + exp_bits, "bits": 1, "signed": False}}
    ports = verilog_ports((directory / f"{top}.v").read_text(), top)
    assert {port["name"]: (port["direction"] + "put", port["width"]) for port in manifest["ports"]} == ports


def read_hex(path):
    return np.array([int(line, 16) for line in path.read_text().split()], dtype=np.int64)


def test_otf_constants(exported):
    spec, directory, _ = exported["otf"]
    manifest = json.loads((directory / "manifest.json").read_text())
    constants, table = manifest["otf"], exponent_table(spec)
    assert manifest["top"] == "pezo_otf_7x5" and manifest["lanes"] == 7 and manifest["mantissa_bits"] == 5
    assert constants["taps"] == list(TAPS[5]) and constants["feedback_mask"] == feedback_mask(5)
    assert constants["lane_seeds"] == lane_seeds(spec) and constants["stride"] == 31 // 7
    assert (constants["k_min"], constants["k_max"]) == table.exponent_range
    lut = constants["lut"]
    stored = read_hex(directory / lut["file"])
    assert stored.size == lut["depth"] == 32 and lut["offset_bits"] == table.offset_bits
    np.testing.assert_array_equal(stored + constants["k_min"], table.exponents)


def test_pool_constants(exported):
    spec, directory, _ = exported["pool"]
    manifest = json.loads((directory / "manifest.json").read_text())
    constants, table = manifest["pool"], pool_table(spec)
    assert manifest["top"] == "pezo_pool_21x6_l3" and constants["exponent"] == table.exponent
    assert constants["bank_depth"] == 7 and len(constants["banks"]) == 3
    banks = [read_hex(directory / name) for name in constants["banks"]]
    signed = [np.where(bank >> (spec.bits - 1), bank - (1 << spec.bits), bank) for bank in banks]
    mantissas, _ = Stream(spec)(0, spec.period_words)
    np.testing.assert_array_equal(np.stack(signed, axis=1), mantissas.numpy())


def test_engine_manifest(exported):
    """An engine build: the engine's Verilog (its ports, not the generator's), the generator's ROM images, and the
    engine's constants; load_build reads it back."""
    spec, directory, _ = exported["engine"]
    manifest = json.loads((directory / "manifest.json").read_text())
    top = manifest["top"]
    assert top == "pezo_engine_bf16_pool_21x6_l3" and manifest["pool"]["banks"][0] == f"{top}_bank0.hex"
    assert manifest["engine"] == {"format": "bf16", "value_bits": 16, "exponent_bits": 8, "precision": 8,
                                  "latency": 7, "e_bits": 6, "modes": {"perturb_plus": 0, "perturb_minus": 1,
                                                                       "update": 2}}
    assert (directory / f"{top}.v").read_text() == emit(Engine(spec, "bf16"), top)
    ports = {port["name"]: port["width"] for port in manifest["ports"]}
    assert ports["w__payload"] == 48 and ports["perturbed__payload"] == 49 and ports["c"] == 32
    assert load_build(directory)[:2] == (spec, top) and load_build(directory).engine == "bf16"
    assert load_build(exported["pool"][1]).engine is None


def test_default_names():
    assert export_module.default_name(OtfSpec()) == "pezo_otf_31x8"
    assert export_module.default_name(PoolSpec()) == "pezo_pool_4095x12"
    assert export_module.default_name(PoolSpec(lanes=5)) == "pezo_pool_4095x12_l5"
    assert export_module.default_name(OtfSpec(), "fp32") == "pezo_engine_fp32_otf_31x8"
    with pytest.raises(ValueError, match="engine format 'fp16' is unknown: allowed fp32, bf16"):
        export(OtfSpec(), "unused", engine="fp16")


def test_load_manifest_round_trip(exported):
    for spec, directory, _ in exported.values():
        assert load_manifest(directory) == spec
        assert load_manifest(directory / "manifest.json") == spec


def tampered(tmp_path, exported, key, edit):
    """A copy of an export with its manifest edited by `edit(manifest)`."""
    _, directory, _ = exported[key]
    copy = tmp_path / key
    copy.mkdir()
    for file in directory.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize("key, edit, message", [
    ("otf", lambda m: m["otf"]["lane_seeds"].reverse(), r"otf\['lane_seeds'\]\[0\] is \d+ but the spec gives \d+$"),
    ("otf", lambda m: m["spec"].update(seed=3), "lane_seeds"),
    ("otf", lambda m: m.update(exp_bits=m["exp_bits"] + 1), "exp_bits"),
    ("pool", lambda m: m["pool"].update(exponent=m["pool"]["exponent"] + 1), "exponent"),
    ("pool", lambda m: m["ports"].pop(), "ports"),
    ("pool", lambda m: m["files"].update({"pezo_pool_21x6_l3_bank1.hex": "0" * 64}), "bank1.hex"),
    ("engine", lambda m: m["engine"].update(format="fp32"), "ports"),
    ("engine", lambda m: m["engine"].update(latency=6), r"engine\['latency'\] is 6 but"),
    ("engine", lambda m: m["engine"].update(format="fp16"), "records its format, one of fp32, bf16"),
    ("engine", lambda m: m.pop("engine"), "ports"),
    ("pool", lambda m: m.update(engine={"format": "bf16"}), "ports"),
    ("pool", lambda m: m.update(engine=None), "an engine build records its format"),
    ("pool", lambda m: m.update(engine={"format": ["bf16"]}), "an engine build records its format"),
    ("pool", lambda m: m.update(extra=1), "'extra' is not a key"),
    ("engine", lambda m: m["engine"].update(latency=7.0), r"engine\['latency'\] is 7.0 but"),
    ("engine", lambda m: m["engine"]["modes"].update(perturb_minus=True),
     r"engine\['modes'\]\['perturb_minus'\] is True but the spec gives \d+$"),
])
def test_load_manifest_refuses_tampering(tmp_path, exported, key, edit, message):
    with pytest.raises(ManifestError, match=message):
        load_manifest(tampered(tmp_path, exported, key, edit))


def test_load_manifest_checks_files(tmp_path, exported):
    directory = tampered(tmp_path, exported, "otf", lambda manifest: None)
    with open(directory / "pezo_otf_7x5.v", "a") as verilog_file:
        verilog_file.write("// edited\n")
    with pytest.raises(ManifestError, match=r"pezo_otf_7x5\.v"):
        load_manifest(directory)


def test_invalid_spec_leaves_nothing(tmp_path):
    with pytest.raises(SpecError, match="width"):
        export({"strategy": "otf", "width": 1}, tmp_path / "out" / "otf")
    with pytest.raises(SpecError, match="exp_bits"):
        export({"strategy": "pool", "exp_bits": 2}, tmp_path / "out" / "pool")
    assert not (tmp_path / "out").exists()


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    spec = OtfSpec(generators=3, width=4)
    written = []

    def failing_write(self, content):
        written.append(self)
        if len(written) == 2:
            raise OSError("disk full")
        return original_write(self, content)

    original_write = export_module.Path.write_bytes
    monkeypatch.setattr(export_module.Path, "write_bytes", failing_write)
    with pytest.raises(OSError, match="disk full"):
        export(spec, tmp_path / "out")
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite_unless_forced(tmp_path):
    spec = PoolSpec(size=21, bits=6, lanes=3)
    target = tmp_path / "out"
    target.mkdir()
    export(spec, target)  # an empty directory is fine
    with pytest.raises(FileExistsError, match="is not empty"):
        export(spec, target)
    export(spec, target, force=True)  # what pezo wrote is replaced
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"holds what pezo did not write \(notes.txt\)"):
        export(spec, target, force=True)
    assert (target / "notes.txt").read_text() == "mine" and load_manifest(target) == spec
    assert os.listdir(tmp_path) == ["out"]


def test_rejects_bad_names(tmp_path):
    with pytest.raises(ValueError, match="identifier"):
        export(OtfSpec(generators=3, width=4), tmp_path / "out", name="bad-name")
    assert not (tmp_path / "out").exists()
