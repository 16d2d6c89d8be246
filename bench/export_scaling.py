"""Time and peak memory of `pezo export` as a generator grows, up to the hardware bounds (hw/generator.py).

    python bench/export_scaling.py [--out out/export_scaling] [--json out/export_scaling.json]

Each export runs as its own process (so its peak RSS is its own, from wait4) into a fresh folder under --out.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pezo.files import discard, write_file

CONFIGS = [
    ("pool", 4095, 12), ("pool", 16383, 12), ("pool", 65535, 12), ("pool", 262143, 12), ("pool", 1048575, 12),
    ("otf", 255, 16), ("otf", 1023, 16), ("otf", 4095, 15),
    ("otf", 31, 16), ("otf", 31, 18), ("otf", 31, 20),
]
"""(strategy, pool size or generators, bits or width)."""


def export(strategy, count, bits, out):
    """(seconds, peak MiB) of one `pezo export` in a child process."""
    fields = (["--size", count, "--bits", bits] if strategy == "pool" else ["--generators", count, "--width", bits])
    begin = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "pezo.cli", "export", "--strategy", strategy,
                              *map(str, fields), "--out", str(out)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"pezo export {strategy} {count}x{bits} failed")
    return time.perf_counter() - begin, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/export_scaling"))
    parser.add_argument("--json", type=Path, help="also write the records as JSON here")
    args = parser.parse_args()
    records = []
    print("| strategy | size or generators | bits or width | seconds | peak MiB |\n|---|---|---|---|---|")
    for strategy, count, bits in CONFIGS:
        folder = args.out / f"{strategy}-{count}x{bits}"
        discard(folder)
        seconds, mib = export(strategy, count, bits, folder)
        discard(folder)
        records.append({"strategy": strategy, "count": count, "bits": bits, "seconds": seconds, "peak_mib": mib})
        print(f"| {strategy} | {count:,} | {bits} | {seconds:.1f} | {mib:,.0f} |", flush=True)
    if args.json:
        write_file(args.json, json.dumps({"records": records}, indent=2) + "\n")


if __name__ == "__main__":
    main()
