"""The ZO engine's cost at many lanes, composed from Yosys estimates of its parts, and the composition checked
against flat estimates of whole engines.

A flat Yosys run synthesises every lane with the rest, so its time grows with the lanes. The lanes are identical,
so the engine is close to its generator, the two decoders of c and d the lanes share, and `lanes` times one lane
(plus a few flip-flops of control, and whatever the flat run optimises across the lanes' boundaries). This bench
estimates the generator, the decoder and one lane alone (the blocks `top`, `scalar_decoder`, `engine_lane_fp32` and
`engine_lane_bf16` of `pezo synth estimate`), composes them, and
compares the composition with the flat estimates of the CHECKED engines, which it synthesises (or finds in the
estimate cache). LUT levels compose as the larger of the two parts': a lower bound.

    python bench/engine_cost.py [--jobs N] [--json FILE]
"""
import argparse
import json

from pezo.files import write_file
from pezo.golden import OtfSpec, PoolSpec
from pezo.synth.designs import blocks, design_name
from pezo.synth.estimate import estimate_all

FORMATS = ("fp32", "bf16")
COUNTED = ("lut_total", "ffs", "dsps", "carries", "bram36_equivalent", "lut_levels")
CHECKED = (PoolSpec(size=4095, bits=12, lanes=5), PoolSpec(size=4095, bits=12))
"""Composed and also synthesised flat."""
COMPOSED = (OtfSpec(generators=31, width=8),)
PARTS = {"top": "generator", "scalar_decoder": "decoder"}
"""Composed only: the paper's 31-lane generator."""


def counted(estimate):
    return {key: getattr(estimate, key) for key in COUNTED}


def parts(spec, jobs):
    """{part: its counts}: the generator ("generator"), the decoder of c or d ("decoder") and one lane of each format
    ("lane fp32", ...)."""
    names = ["top", "scalar_decoder"] + [f"engine_lane_{fmt}" for fmt in FORMATS]
    found = estimate_all(blocks(spec, names), jobs)
    return {PARTS.get(name, f"lane {name[-4:]}"): counted(found[design_name(spec, name)]) for name in names}


def composed(part, fmt, lanes):
    """The generator, two decoders and `lanes` lanes of `fmt`; LUT levels the largest of the parts'."""
    generator, decoder, lane = part["generator"], part["decoder"], part[f"lane {fmt}"]
    total = {key: generator[key] + 2 * decoder[key] + lanes * lane[key] for key in COUNTED}
    total["lut_levels"] = max(generator["lut_levels"], decoder["lut_levels"], lane["lut_levels"])
    return total


def flat(spec, jobs):
    """{fmt: the counts of the flat estimate of the whole engine}."""
    found = estimate_all(blocks(spec, [f"engine_{fmt}" for fmt in FORMATS]), jobs)
    return {fmt: counted(found[design_name(spec, f"engine_{fmt}")]) for fmt in FORMATS}


def row(label, values):
    return (f"| {label} | {values['lut_total']:,} | {values['ffs']:,} | {values['dsps']} | {values['carries']:,} | "
            f"{values['bram36_equivalent']:g} | {values['lut_levels']} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="Yosys runs at a time (default 1)")
    parser.add_argument("--json", help="also write the records as JSON to this file")
    args = parser.parse_args(argv)
    records = []
    print("| design | LUTs | FFs | DSP | CARRY | BRAM36 | LUT levels |\n|---|---|---|---|---|---|---|")
    for spec in CHECKED + COMPOSED:
        label, part = spec.label, parts(spec, args.jobs)
        whole = flat(spec, args.jobs) if spec in CHECKED else None
        for name, values in part.items():
            print(row(f"{label}: {name} alone", values))
        for fmt in FORMATS:
            mine = composed(part, fmt, spec.lanes)
            print(row(f"{label}: engine {fmt}, composed", mine))
            if whole:
                print(row(f"{label}: engine {fmt}, flat", whole[fmt]))
                print(f"| {label}: engine {fmt}, composed / flat | " + " | ".join(
                    f"{mine[key] / whole[fmt][key]:.3f}" if whole[fmt][key] else "–" for key in COUNTED) + " |")
            records.append({"engine": label, "format": fmt, "spec": spec.to_dict(), "parts": part, "composed": mine,
                            "flat": whole[fmt] if whole else None})
    if args.json:
        write_file(args.json, json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
