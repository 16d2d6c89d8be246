"""The generator variants next to the generators they fix: hardware cost under the project's Yosys estimate (the
whole generator: LUTs, FFs, BRAM36, LUT levels) and the perturbation quality they exist for, on the default
model's trainable count (full fine-tuning): reach K, E[u], E[u^2], the largest |autocorrelation| up to lag
4 lanes; and, for the slipping pool, the span of 10^4 consecutive perturbations of 10^6 values (a lower bound: the
rank of their values at RANK_COLUMNS seeded random weight indices; the plain pool's perturbations lie in its
periodic subspace of pool size x lanes dimensions whatever the columns).

    python bench/variant_cost.py [--json out/variant_cost.json] [--span-steps 10000]   # 0: no spans
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from pezo.files import write_file
from pezo.golden import OtfSpec, PoolSpec, Stream
from pezo.golden.quality import analyse
from pezo.golden.stream import words_per_step
from pezo.synth.designs import design_name
from pezo.hw.generator import generator
from pezo.synth.estimate import estimate
from pezo.train.models import trainable_values

PAIRS = [
    ("full reach", OtfSpec(), OtfSpec(hop_bits=8)),
    ("full reach", PoolSpec(), PoolSpec(hop_bits=8)),
    ("decorrelated", OtfSpec(width=14), OtfSpec(width=14, leap=14)),
    ("decorrelated", OtfSpec(width=11), OtfSpec(width=11, leap=11)),
    ("decorrelated (cannot: pigeonhole)", OtfSpec(), OtfSpec(leap=11)),
    ("zero mean, unit variance", PoolSpec(), PoolSpec(balanced=1)),
    ("no periodic confinement", PoolSpec(), PoolSpec(slip=1)),
    ("all pool fixes", PoolSpec(), PoolSpec(balanced=1, slip=1, hop_bits=8)),
]
SPAN_VALUES = 10 ** 6
RANK_COLUMNS = 12_000
SEED = 0


def cost(spec):
    found = estimate(design_name(spec, "top"), lambda: generator(spec))
    return {"luts": found.lut_total, "ffs": found.ffs, "bram36": found.bram36_equivalent,
            "lut_levels": found.lut_levels}


def statistics(spec, values):
    quality = analyse(spec, values)
    return {"reach": quality.reach, "hop": quality.hop, "mean": quality.mean, "mean_square": quality.mean_square,
            "worst_lag": quality.worst_lag, "worst_correlation": quality.worst_correlation}


def span(spec, steps, values=SPAN_VALUES):
    """Rank of `steps` consecutive perturbations of `values` values at RANK_COLUMNS random indices (seed SEED)."""
    columns = np.sort(np.random.default_rng(SEED).choice(values, RANK_COLUMNS, replace=False))
    stream, rows = Stream(spec), np.empty((steps, RANK_COLUMNS))
    step = words_per_step(spec, values)
    for t in range(steps):
        rows[t] = stream.perturbation(t * step, values).numpy()[columns]
    return int(torch.linalg.matrix_rank(torch.from_numpy(rows)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the records as JSON here")
    parser.add_argument("--span-steps", type=int, default=10_000,
                        help="perturbations in the span (10000; 0 leaves the spans out)")
    args = parser.parse_args()
    values, records, measured = trainable_values(), [], {}
    print(f"default model: {values:,} trainable values")
    print("| fixes | generator | LUTs | FFs | BRAM36 | LUT levels | K | hop | E[u] | E[u^2] | E[u^2] - 1 | "
          "max abs r (lag) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fixes, base, variant in PAIRS:
        for spec in (base, variant):
            if spec.label not in measured:
                measured[spec.label] = {"spec": spec.to_dict(), **cost(spec), **statistics(spec, values)}
            found = measured[spec.label]
            records.append({"fixes": fixes, "label": spec.label, **found})
            print(f"| {fixes} | {spec.label} | {found['luts']} | {found['ffs']} | {found['bram36']:g} | "
                  f"{found['lut_levels']} | {found['reach']:,} | {found['hop']} | {found['mean']:.4f} | "
                  f"{found['mean_square']:.4f} | {found['mean_square'] - 1:+.1e} | "
                  f"{abs(found['worst_correlation']):.3f} ({found['worst_lag']}) |",
                  flush=True)
    spans = {}
    for spec in (PoolSpec(hop_bits=8), PoolSpec(slip=1, hop_bits=8)) if args.span_steps else ():
        begin = time.perf_counter()
        spans[spec.label] = span(spec, args.span_steps)
        print(f"span of {args.span_steps:,} perturbations of {SPAN_VALUES:,} values, {spec.label}: "
              f"{spans[spec.label]:,} ({time.perf_counter() - begin:.0f} s)", flush=True)
    if args.json:
        write_file(args.json, json.dumps({"values": values, "records": records, "span_steps": args.span_steps,
                                          "span_values": SPAN_VALUES, "rank_columns": RANK_COLUMNS,
                                          "spans": spans}, indent=2) + "\n")


if __name__ == "__main__":
    main()
