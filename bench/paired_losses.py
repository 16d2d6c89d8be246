"""Paired loss differences between the points of a sweep that share a seed: each point's train loss minus a
reference point's, step by step over the last fifth of the steps, with the standard error of that mean when the
steps' differences are taken as independent (they are not quite: weights change slowly, so it understates). Points
with one seed see the same batches in the same order, so the batch-to-batch noise cancels in the difference.

    python bench/paired_losses.py out/sweep/protocol-lr --reference gaussian-zo-sgd-seed0-92743ee8c9ba
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np


def losses(folder):
    """{step: loss} of one point's metrics.jsonl (its ZO steps only)."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {record["step"]: record["loss"] for record in records if "seconds" in record and "event" not in record}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="a sweep folder (its points/)")
    parser.add_argument("--reference", help="the reference point's name (default: the first by name)")
    args = parser.parse_args()
    points = sorted(path for path in (args.sweep / "points").iterdir() if (path / "point.json").exists())
    runs = {path.name: (json.loads((path / "point.json").read_text()), losses(path)) for path in points}
    names = list(runs)
    chosen = args.reference or names[0]
    if chosen not in runs:
        parser.error(f"--reference {chosen}: no finished point of that name in {args.sweep}: allowed {names}")
    reference_record, reference = runs[chosen]
    steps = max(reference)
    window = range(steps - steps // 5 + 1, steps + 1)
    print(f"reference {chosen}; steps {window.start}..{window.stop - 1}")
    print("| point | seed | lr | mean loss | paired difference | its standard error |")
    print("|---|---|---|---|---|---|")
    for name, (record, found) in runs.items():
        settings = record["settings"]
        if settings["seed"] != reference_record["settings"]["seed"] or not all(step in found for step in window):
            continue
        own = np.array([found[step] for step in window])
        difference = own - np.array([reference[step] for step in window])
        error = difference.std(ddof=1) / math.sqrt(difference.size) if difference.size > 1 else float("nan")
        print(f"| {name} | {settings['seed']} | {settings['lr']:g} | {own.mean():.4f} | {difference.mean():+.4f} | "
              f"{error:.4f} |")


if __name__ == "__main__":
    main()
