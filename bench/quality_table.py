"""Perturbation quality of every preset and every configuration of the paper sweep, on the default model and on the
PeZO/MeZO papers' models (full fine-tuning, trainable counts from their configs on the meta device).

    python bench/quality_table.py                 # markdown tables on stdout (docs/results.md holds them)
    python bench/quality_table.py --json q.json   # also every figure as JSON

One table of what does not depend on the model (period, E[u], E[u^2], largest autocorrelation, step bias), one
of the reach K (and, where the span is below K, the span) per model, one of the weight matrix whose rank the
stream's period confines most per model (train/quality.py: its rank bound of its full rank).
"""
import argparse
import json
import sys
import warnings

from pezo.golden import PAPER_DEFAULTS, PerturbSpec, RegularPatternWarning
from pezo.sweep.grid import points
from pezo.sweep.presets import PRESETS
from pezo.train import models, perturbations, quality

MODELS = [models.DEFAULT_MODEL, *models.PAPER_MODELS]


def sources():
    """(label, perturb, spec) of every preset and every paper-sweep configuration, once each."""
    found = {f"{spec.source} {spec.dimensions}": (spec.source, spec) for spec in PAPER_DEFAULTS.values()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularPatternWarning)
        for point in points(PRESETS["paper"]):
            spec = point.settings["spec"] and PerturbSpec.from_dict(point.settings["spec"])
            label = " ".join(filter(None, [point.settings["perturb"], point.generator]))
            found.setdefault(label, (point.settings["perturb"], spec))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    shapes = {model: models.trainable_shapes(model) for model in MODELS}
    rows = []
    for label, (perturb, spec) in sources().items():
        source = perturbations.make(perturb, spec=spec)
        rows.append({"source": label, "perturb": perturb, "spec": spec and spec.to_dict(),
                     "models": {model: quality.of_source(source, shapes[model]) for model in MODELS}})
    counts = {model: found["values"] for model, found in rows[0]["models"].items()}
    print("| source | period (values) | E[u] | E[u^2] | largest autocorrelation (lag) | step bias |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        q = row["models"][models.DEFAULT_MODEL]
        period = "none" if q["period_values"] is None else f"{q['period_values']:,}"
        worst = "0" if q["worst_lag"] is None else f"{q['worst_correlation']:.3f} ({q['worst_lag']})"
        print(f"| {row['source']} | {period} | {q['mean']:.4f} | {q['mean_square']:.4g} | {worst} | "
              f"{q['step_bias']:.3f} |")
    print()
    print("| source | " + " | ".join(f"{model} ({counts[model]:,})" for model in MODELS) + " |")
    print("|---|" + "---|" * len(MODELS))
    for row in rows:
        print(f"| {row['source']} | " + " | ".join(_reach(row["models"][model]) for model in MODELS) + " |")
    print()
    print("| source | " + " | ".join(MODELS) + " |")
    print("|---|" + "---|" * len(MODELS))
    for row in rows:
        print(f"| {row['source']} | " + " | ".join(quality.matrix_cell(row["models"][model]) for model in MODELS)
              + " |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"trainable_values": counts, "sources": rows}, file, indent=1)
    return 0


def _reach(quality):
    if quality["reach"] is None:
        return "unbounded"
    if quality["span"] < quality["reach"]:
        return f"{quality['reach']:,} (span {'' if quality['span_exact'] else '<= '}{quality['span']:,})"
    return f"{quality['reach']:,}"


if __name__ == "__main__":
    sys.exit(main())
