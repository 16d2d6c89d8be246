"""The ZO engine's cost at many lanes, composed from Yosys estimates of its parts, and the composition checked
against flat estimates of whole engines.

A flat Yosys run of the engine takes about four CPU minutes per lane here, so 31 lanes take about two hours per
format. The lanes are identical, so the engine is close to its generator plus `lanes` times one lane (plus a few
flip-flops of control, and whatever the flat run optimises across the lanes' boundaries). This bench estimates the
generator and one lane alone (`pezo synth estimate --blocks top,engine_lane_fp32,engine_lane_bf16`), composes
them, and compares the composition with the flat estimate of each `--check` configuration, which it synthesises
(or finds in the estimate cache). LUT levels compose as the larger of the two parts': a lower bound.

    python bench/engine_cost.py [--configs otf-31x8] [--check pool-4095x12-l5,pool-4095x12-l1] [--json FILE]
"""
import argparse
import json

from pezo.files import write_file
from pezo.golden import OtfSpec, PoolSpec
from pezo.hw.export import default_name
from pezo.synth.designs import blocks
from pezo.synth.estimate import estimate_all

FORMATS = ("fp32", "bf16")
COUNTED = ("lut_total", "ffs", "dsps", "carries", "bram36_equivalent")


def spec_of(name):
    """otf-GxW or pool-SxB[-lL] as a spec."""
    strategy, rest = name.split("-", 1)
    size, _, lanes = rest.partition("-l")
    first, second = map(int, size.split("x"))
    if strategy == "otf":
        return OtfSpec(generators=first, width=second)
    return PoolSpec(size=first, bits=second, lanes=int(lanes or 1))


def composed(spec, jobs):
    """{fmt: {counted resource: generator + lanes x lane, "lut_levels": max of the two}}."""
    names = ["top"] + [f"engine_lane_{fmt}" for fmt in FORMATS]
    found = estimate_all(blocks(spec, names), jobs)
    top = found[default_name(spec)]
    result = {}
    for fmt in FORMATS:
        lane = found[f"{default_name(spec)}_engine_lane_{fmt}"]
        result[fmt] = {key: getattr(top, key) + spec.lanes * getattr(lane, key) for key in COUNTED}
        result[fmt]["lut_levels"] = max(top.lut_levels, lane.lut_levels)
    return result


def flat(spec, jobs):
    """{fmt: the flat estimate of the whole engine}."""
    found = estimate_all(blocks(spec, [f"engine_{fmt}" for fmt in FORMATS]), jobs)
    return {fmt: {key: getattr(found[f"{default_name(spec)}_engine_{fmt}"], key) for key in COUNTED + ("lut_levels",)}
            for fmt in FORMATS}


def row(label, fmt, values):
    return (f"| {label} | {fmt} | {values['lut_total']:,} | {values['ffs']:,} | {values['dsps']} | "
            f"{values['carries']} | {values['bram36_equivalent']:g} | {values['lut_levels']} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="otf-31x8", help="engines to compose (default otf-31x8)")
    parser.add_argument("--check", default="pool-4095x12-l5,pool-4095x12-l1",
                        help="engines to compose and also synthesise flat (default pool-4095x12-l5,pool-4095x12-l1)")
    parser.add_argument("--jobs", type=int, default=1, help="Yosys runs at a time (default 1)")
    parser.add_argument("--json", help="also write the records as JSON to this file")
    args = parser.parse_args(argv)
    records = []
    print("| engine | format | LUTs | FFs | DSP | CARRY | BRAM36 | LUT levels |\n|---|---|---|---|---|---|---|---|")
    checks = [name for name in args.check.split(",") if name]
    for name in checks + [name for name in args.configs.split(",") if name]:
        spec = spec_of(name)
        parts, whole = composed(spec, args.jobs), flat(spec, args.jobs) if name in checks else None
        for fmt in FORMATS:
            print(row(f"{name}, composed", fmt, parts[fmt]))
            if whole:
                print(row(f"{name}, flat", fmt, whole[fmt]))
                ratio = {key: parts[fmt][key] / whole[fmt][key] for key in COUNTED if whole[fmt][key]}
                print(f"|   composed / flat | {fmt} | " + " | ".join(
                    f"{ratio[key]:.3f}" if key in ratio else "–" for key in COUNTED) + " | – |")
            records.append({"engine": name, "format": fmt, "spec": spec.to_dict(), "composed": parts[fmt],
                            "flat": whole[fmt] if whole else None})
    if args.json:
        write_file(args.json, json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
