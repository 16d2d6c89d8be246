"""What replay costs in the otf array: the shadow copy (LfsrArray), the reloaded array (ReloadArray, `reload=1`)
and no replay at all, with the worst-case replay time, under the project's Yosys estimate with and without abc9's
-dff mode (whose polarity inverters around flip-flops that reset to 1 can turn plain wires of a shift path into
LUTs; Vivado maps such flip-flops to FDSE).

    python bench/replay_cost.py [--configs 31x8,31x14,...] [--json out/replay_cost.json]
"""
import argparse
import json
from pathlib import Path

from pezo.files import write_file
from pezo.golden import OtfSpec
from pezo.golden.otf import lane_seeds
from pezo.hw.lfsr_array import LfsrArray
from pezo.hw.reload_array import ReloadArray
from pezo.synth.estimate import estimate

CONFIGS = "31x8,31x14,63x8,15x8,7x8,31x16"
DESIGNS = {
    "shadow": (lambda spec: LfsrArray(spec.width, lane_seeds(spec)), lambda n: 1),
    "reload": (lambda spec: ReloadArray(spec.width, lane_seeds(spec)), lambda n: 2 * n),
    "none": (lambda spec: LfsrArray(spec.width, lane_seeds(spec), replay=False), lambda n: None),
}
"""{replay design: (its array for a spec, the most cycles from a replay to its first word: 1 from the shadow, n + (start
mod n) + 1 from the reloaded array (docs/spec.md section 7))}."""


def measure(configs):
    records = []
    for config in configs:
        n, width = map(int, config.split("x"))
        spec = OtfSpec(generators=n, width=width)
        for design, (build, cycles) in DESIGNS.items():
            record = {"config": config, "design": design, "replay_cycles": cycles(n),
                      "goal_luts": 2 * n, "goal_ffs": n * width + 4 * width}
            for dff in (True, False):
                found = estimate(f"pezo_otf_{config}_array_{design}", lambda: build(spec), dff=dff)
                key = "dff" if dff else "plain"
                record[key] = {"luts": found.lut_total, "ffs": found.ffs, "inverters": found.inverters,
                               "lut_levels": found.lut_levels}
            records.append(record)
            print(_row(record), flush=True)
    return records


def _row(record):
    dff, plain = record["dff"], record["plain"]
    cycles = "-" if record["replay_cycles"] is None else record["replay_cycles"]
    return (f"| {record['config']} | {record['design']} | {dff['luts']} | {dff['ffs']} | {dff['inverters']} | "
            f"{dff['lut_levels']} | {plain['luts']} | {plain['ffs']} | {plain['inverters']} | {plain['lut_levels']} "
            f"| {cycles} | {record['goal_luts']} / {record['goal_ffs']} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=CONFIGS, help=f"generators x width, comma-separated ({CONFIGS})")
    parser.add_argument("--json", type=Path, help="also write the records as JSON here")
    args = parser.parse_args()
    print("| config | replay | LUTs (-dff) | FFs | INV | levels | LUTs (no -dff) | FFs | INV | levels "
          "| replay cycles (worst) | goal LUTs / FFs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    records = measure(args.configs.split(","))
    if args.json:
        write_file(args.json, json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
