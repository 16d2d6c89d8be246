"""What a sweep reads from its points: per point, and per configuration (a point's settings but its seed).

- final loss: the mean train loss (each step's estimate of L(theta)) over the last fifth of the steps, with its
  standard error (the window's sample deviation over the square root of its length);
- test accuracy of the dev-selected weights, with its binomial standard error, and their answer to each test
  example (right or wrong, where the run recorded them), which paired comparisons read (sweep/analysis.py);
- best dev accuracy and its step, steps done, the median step time and the sum of step times (the kept steps'),
  and the wall time of the attempt that finished the point (a resumed point's leaves out its earlier attempts);
- the source's perturbation quality for the point's model (QUALITY).

A configuration averages its seeds: the mean of each measure, and the standard error of that mean from the
seeds' windows, or from the spread of the seeds where it is larger.
"""
import dataclasses
import json
import math
import statistics

from pezo.train import quality, records

from .grid import DEFAULTS, SPEC_FIELDS, Point

WINDOW_FRACTION = 5
"""The final loss averages the last 1/WINDOW_FRACTION of a run's steps (at least one)."""
QUALITY = ("values", "reach", "span", "span_exact", "mean_square", "worst_correlation", "worst_lag", "step_bias",
           *quality.MATRIX)
"""The perturbation quality figures (golden/quality.py, and the weakest matrix of train/quality.py) a point's row
holds, as quality_<name>: its run's record, or computed from its settings for runs that predate them."""


ANSWERS = ("test_answers", "start_answers")
"""A row's fields of per-example answers: kept out of the report's files (they stay in the points' folders)."""


def point_row(record, folder):
    """One point's measures, as a flat dict (plus its loss trajectory under "losses")."""
    settings, summary = record["settings"], record["summary"]
    metrics = records.read_metrics(folder / records.METRICS)
    steps = [r for r in metrics if "seconds" in r and "loss" in r and "event" not in r]
    losses = [r["loss"] for r in steps]
    window = losses[-max(1, len(losses) // WINDOW_FRACTION):] if losses else []
    spec = settings["spec"] or {}
    cost = record["cost"] or {}
    test = summary["test_accuracy"]
    found = summary.get("quality") or quality.of_settings(settings)
    if "matrix" not in found:                           # recorded before runs recorded their weakest matrix
        found = {**found, **quality.matrices_of_settings(settings, found["period_values"])}
    answers, start = (read_answers(folder / name) for name in (records.ANSWERS, records.START_ANSWERS))
    return {
        "name": record["name"], "label": record["label"], "perturb": settings["perturb"],
        "method": settings["method"], "seed": settings["seed"], "strategy": spec.get("strategy"),
        **{field: spec.get(name) for field, name in SPEC_FIELDS.items()},
        "steps_done": summary["steps_done"], "loss_window": len(window),
        "final_loss": statistics.mean(window) if window else math.nan,
        "final_loss_se": statistics.stdev(window) / math.sqrt(len(window)) if len(window) > 1 else math.nan,
        "first_loss": losses[0] if losses else math.nan,
        "test_accuracy": test, "test_accuracy_se": _binomial_se(test, settings["test_size"]),
        "best_dev_accuracy": summary["best_dev_accuracy"], "best_step": summary["best_step"],
        "step_seconds": statistics.median(r["seconds"] for r in steps) if steps else math.nan,
        "train_seconds": sum(r["seconds"] for r in steps), "wall_seconds": record["wall_seconds"],
        "stopped": summary["stopped"] or "",
        **{f"cost_{key}": cost.get(key) for key in ("design", "luts", "ffs", "lut_ff", "bram36", "dsps",
                                                     "lut_levels")},
        **{f"quality_{key}": found[key] for key in QUALITY},
        "start_test_accuracy": statistics.mean(start["right"]) if start else math.nan,
        "losses": losses, "test_answers": answers, "start_answers": start,
    }


def matrix_label(row):
    """A row's weakest matrix as train/quality.py's matrix_cell writes it."""
    return quality.matrix_cell({key: row["quality_" + key] for key in quality.MATRIX})


def _binomial_se(accuracy, examples):
    return math.sqrt(accuracy * (1 - accuracy) / examples)


def read_answers(path):
    """A run's answers (records.read_answers) where it wrote them (runs of older versions did not), else None."""
    return records.read_answers(path) if path.exists() else None


@dataclasses.dataclass
class Configuration:
    """The points of one setting that differ only in their seed."""
    key: str
    label: str
    settings: dict
    rows: list

    def mean(self, name):
        return statistics.mean(row[name] for row in self.rows)

    def se(self, name):
        """Standard error of the mean of `name` over the seeds."""
        within = math.sqrt(sum(row[f"{name}_se"] ** 2 for row in self.rows)) / len(self.rows)
        if len(self.rows) < 2:
            return within
        return max(within, statistics.stdev(row[name] for row in self.rows) / math.sqrt(len(self.rows)))

    def shown(self, name):
        """The mean of `name` ± its standard error, in 4 and 2 significant digits."""
        mean, se = self.mean(name), self.se(name)
        return f"{mean:.4g}" + ("" if math.isnan(se) else f" ± {se:.2g}")

    @property
    def cost(self):
        first = self.rows[0]
        return None if first["cost_lut_ff"] is None else {key[5:]: first[key] for key in first
                                                          if key.startswith("cost_")}

    @property
    def spec(self):
        return self.settings["spec"] or {}

    def field(self, name):
        """A grid spec field of this configuration (None where its source has none)."""
        return self.spec.get(SPEC_FIELDS[name])

    def starting(self):
        """The Configuration of this one's starting weights (zero-shot): the test answers its runs gave before any
        step, where they recorded them; None where none did."""
        rows = [{"seed": row["seed"], "test_accuracy": row["start_test_accuracy"], "test_answers": row["start_answers"],
                 "test_accuracy_se": _binomial_se(row["start_test_accuracy"], len(row["start_answers"]["labels"]))}
                for row in self.rows if row.get("start_answers")]
        return Configuration(self.key, f"the starting weights of {self.label}", self.settings, rows) if rows else None


def configurations(records):
    """[Configuration] of (record, row) pairs, in the order of their first point; labels name any setting that
    tells two configurations apart beyond source, generator and method (a switch by its name, where it is on). A
    setting added to the trainer after a point ran is taken at its default, as the point's name takes it
    (grid.Point.digest)."""
    groups = {}
    for record, row in records:
        settings = {name: value for name, value in {**DEFAULTS, **record["settings"]}.items() if name != "seed"}
        key = json.dumps(settings, sort_keys=True)
        groups.setdefault(key, (settings, record, []))[2].append(row)
    varying = _varying([settings for settings, _, _ in groups.values()])
    found = []
    for key, (settings, record, rows) in groups.items():
        base = Point({**settings, "seed": 0}).label.rsplit(", seed", 1)[0]
        extra = ", ".join(_shown(name, settings.get(name)) for name in varying if settings.get(name) is not False)
        found.append(Configuration(key, base + (f" ({extra})" if extra else ""), settings, rows))
    return found


def _shown(name, value):
    """A setting as a label names it: a switch that is on by its name alone (one that is off is not named)."""
    return name.replace("_", " ") if value is True else f"{name} {value}"


def _varying(all_settings):
    """Settings (beyond those the label shows) that differ between configurations."""
    shown = {"perturb", "spec", "method", "numerics", "forward"}
    names = sorted({name for settings in all_settings for name in settings} - shown)
    return [name for name in names
            if len({json.dumps(settings.get(name), sort_keys=True) for settings in all_settings}) > 1]
