"""SHA-256 of every Verilog file pezo emits, for a set of configurations: to show a refactoring changes no byte.

    python bench/verilog_digest.py > before.txt          # on the old tree
    python bench/verilog_digest.py --against before.txt  # on the new one: exit 1 and the differing files if any

Covered: `pezo export` of each configuration (the generator, and the engine in fp32 and bf16 around it), the AXI IP
of each (`pezo synth ip`, generator and engine, with the copied driver), the Vivado flow's folder (`pezo synth
vivado`), the Verilog every `pezo synth estimate` block is synthesised from, and Table 6's Gaussian baseline.
"""
import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

from pezo.golden.spec import PAPER_DEFAULTS, OtfSpec, PoolSpec
from pezo.hw.export import export
from pezo.hw.ip import write_ip
from pezo.synth import estimate
from pezo.synth.designs import ON_REQUEST, blocks, gaussian_baseline
from pezo.synth.vivado import write_flow

SPECS = {**PAPER_DEFAULTS,
         "otf-7x6-reload": OtfSpec(generators=7, width=6, reload=1),
         "otf-31x11-leap11-hop8": OtfSpec(generators=31, width=11, leap=11, hop_bits=8),
         "pool-4095x12-l5": PoolSpec(size=4095, bits=12, lanes=5),
         "pool-255x8-balanced-slip-hop8": PoolSpec(size=255, bits=8, balanced=1, slip=1, hop_bits=8)}
ENGINE_SPECS = ("otf-31x8", "pool-4095x12-l5")


def digests():
    """{what: sha256 hex} of every emitted file."""
    found = {}
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for label, spec in SPECS.items():
            for engine in (None, "fp32", "bf16") if label in ENGINE_SPECS else (None,):
                kind = engine or "generator"
                found |= _folder(f"export/{label}/{kind}", export(spec, work / "export" / label / kind, engine=engine))
                ip = work / "ip" / label / kind
                write_ip(spec, ip, engine=engine)
                found |= _folder(f"ip/{label}/{kind}", ip)
            designs = blocks(spec, ("top", "sequencer") + ON_REQUEST if label in ENGINE_SPECS else None)
            for name, build in designs.items():
                found[f"estimate/{label}/{name}"] = _estimated_verilog(name, build)
        found |= _folder("vivado", write_flow(work / "vivado", PAPER_DEFAULTS, PAPER_DEFAULTS["otf-31x8"]))
        for name, build in gaussian_baseline(64).items():
            found[f"estimate/{name}"] = _estimated_verilog(name, build)
    return found


def _estimated_verilog(name, build):
    """The hash of the Verilog `pezo synth estimate` would hand Yosys for the design (its synthesis not run)."""
    seen, synthesise = [], estimate.synthesise
    estimate.synthesise = lambda name, text, dff=True: seen.append(text)
    try:
        estimate.estimate(name, build)
    finally:
        estimate.synthesise = synthesise
    return _hash(seen[0].encode())


def _folder(prefix, folder):
    return {f"{prefix}/{path.relative_to(folder)}": _hash(path.read_bytes())
            for path in sorted(Path(folder).rglob("*")) if path.is_file()}


def _hash(data):
    return hashlib.sha256(data).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="a digest list written before: compare with it")
    args = parser.parse_args()
    found = digests()
    if args.against is None:
        for what, digest in sorted(found.items()):
            print(what, digest)
        return 0
    before = dict(line.split() for line in args.against.read_text().splitlines() if line.strip())
    differing = sorted(what for what in set(before) | set(found) if before.get(what) != found.get(what))
    for what in differing:
        print(f"differs: {what} (before {before.get(what, 'absent')[:12]}, now {found.get(what, 'absent')[:12]})")
    print(f"{len(found)} files, {len(differing)} differ from {args.against}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
