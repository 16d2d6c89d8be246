"""The files of a run's folder (train/loop.py writes them): their names, and the checked readers of what pezo reads
back (the checkpoint, summary.json, metrics.jsonl), and the plot of the metrics."""
import dataclasses
from pathlib import Path

import torch

from pezo import errors, files, reading

WEIGHTS = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
STATE = "state.json"
ANSWERS = "test_answers.json"
START_ANSWERS = "start_answers.json"
METRICS = "metrics.jsonl"
ARCHIVED_METRICS = f"{METRICS}.gz"
"""A run's metrics as a sweep's archive (`pezo sweep report --points`) keeps them: gzip-compressed (a 5,000-step
run's metrics.jsonl holds about 1 MB, a 20,000-step run's four times that)."""
OWNS = ["config.json", METRICS, "checkpoint/", "best/", "summary.json", ANSWERS, START_ANSWERS, "plot.png"]
"""What a run writes in its folder."""


@dataclasses.dataclass
class Progress:
    step: int = 0
    best_dev: float = -1.0
    best_step: int = 0


SUMMARY_KINDS = {"steps_done": (int,), "best_step": (int,), "best_dev_accuracy": (float,), "test_accuracy": (float,),
                 "train_seconds": (float,), "stopped": (str, type(None)), "quality": (dict, type(None))}
"""The fields of summary.json that pezo reads back (a sweep's points), and their kinds."""


def check_summary(summary, path):
    """A run's summary (summary.json, or a sweep point's copy of it) with the fields pezo reads, of their kinds."""
    required = [key for key in SUMMARY_KINDS if key != "quality"]
    return reading.check_record(summary, path, "a run's summary", SUMMARY_KINDS, required=required, others=True)


ANSWERS_KINDS = {"step": (int,), "labels": (list,), "predictions": (list,)}


def read_answers(path):
    """A run's test answers (test_answers.json, or start_answers.json: its starting weights') as {"labels",
    "right"}: each test example's label, and whether the weights answered it (0 or 1); a BadFile naming the file
    where its lists are not of integers of one length."""
    answers = reading.check_record(reading.read_json(path, "a run's test answers"), path, "a run's test answers",
                                   ANSWERS_KINDS, required=tuple(ANSWERS_KINDS))
    labels, predictions = answers["labels"], answers["predictions"]
    if len(labels) != len(predictions) or not all(type(value) is int for value in labels + predictions):
        raise reading.BadFile(f"{path}: its labels and predictions must be lists of integers of one length")
    return {"labels": labels, "right": [int(label == prediction) for label, prediction in zip(labels, predictions)]}


STEP_KINDS = {"step": (int,), "loss": (float,), "seconds": (float,), "event": (str,), "dev_accuracy": (float,),
              "test_accuracy": (float,)}
"""The fields of metrics.jsonl records that pezo reads back (the plot, a sweep's measures), and their kinds."""


def read_metrics(path):
    """The records of a run's metrics.jsonl (or, where only that is there, of the ARCHIVED_METRICS beside it),
    checked: JSON objects (a last line cut short by a killed run is dropped), the first the run's config, the fields
    pezo reads of their kinds; a BadFile naming the file and line otherwise."""
    path, packed = Path(path), Path(path).with_name(ARCHIVED_METRICS)
    gzipped = not path.exists() and packed.exists()
    path = packed if gzipped else path
    records = reading.read_jsonl(path, "a run's metrics (JSON lines)", cut_last=True, gzipped=gzipped)
    if not records or records[0].get("event") != "config":
        raise reading.BadFile(f"{path} does not begin with the run's config record: the run's metrics are damaged")
    for number, record in enumerate(records, 1):
        reading.check_record(record, f"{path} line {number}", "a metrics record", STEP_KINDS, others=True)
    return records


def contents(path):
    """The bytes of a run's file; a BadFile naming it where it is missing."""
    if not Path(path).is_file():
        raise reading.BadFile(f"{path} is missing: the run's files are incomplete")
    return Path(path).read_bytes()


def parse(load, data, path, **options):
    """`load(data)` of the file `path`'s contents, with a damaged file named in a BadFile instead of the loader's
    own error."""
    try:
        return load(data, **options)
    except Exception as error:      # safetensors and torch.load each raise their own types for a damaged file
        raise reading.BadFile(f"{path} cannot be read ({errors.reason(error, 200)}): the file is damaged, truncated "
                              f"or another run's") from None


def checked_progress(state, path, scheduled):
    """The Progress a checkpoint's state.json (`state`) records, checked: its fields and the progress's, of their
    kinds, the counts non-negative, and at the step the lr schedule's own state counts (`scheduled`); a BadFile
    naming the file otherwise."""
    reading.check_record(state, path, "a checkpoint's state", {"progress": (dict,), "seed": (int,)},
                         required=("progress",))
    kinds = reading.kinds_of(Progress)
    progress = reading.check_record(state["progress"], f"{path} progress", "a checkpoint's progress", kinds,
                                    required=tuple(kinds))
    if progress["step"] < 0 or progress["best_step"] < 0:
        raise reading.BadFile(f"{path}: progress step {progress['step']}, best_step {progress['best_step']}: "
                              f"allowed non-negative counts; the checkpoint is damaged")
    if progress["step"] != scheduled:
        raise reading.BadFile(f"{path}: step {progress['step']} disagrees with the checkpoint's lr schedule, at step "
                              f"{scheduled}: the checkpoint is damaged")
    return Progress(**progress)


def load_weights(model, data, path):
    """Load the trainable tensors of a safetensors file's contents `data` (read from `path`) into `model` (by
    name)."""
    from safetensors.torch import load
    saved, parameters = parse(load, data, path), dict(model.named_parameters())
    missing = sorted(set(saved) - set(parameters))
    if missing:
        raise ValueError(f"{path} holds tensors the model lacks: {missing[:3]}")
    with torch.no_grad():
        for name, tensor in saved.items():
            parameters[name].copy_(tensor)


def plot(records, target):
    """Loss per step and accuracy per evaluation of a run's metrics records (read_metrics), as a PNG titled with the
    run's seed."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    config = records[0]
    steps = [r for r in records if "loss" in r and "step" in r and "event" not in r]
    evals = [r for r in records if r.get("event") == "eval" and "step" in r and "dev_accuracy" in r]
    tests = [r for r in records if r.get("event") == "test" and "step" in r and "test_accuracy" in r]
    figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot([r["step"] for r in steps], [r["loss"] for r in steps])
    loss_axes.set(xlabel="step", ylabel="train loss (estimate of L(theta) per step)")
    accuracy_axes.plot([r["step"] for r in evals], [r["dev_accuracy"] for r in evals], marker="o", label="dev")
    accuracy_axes.plot([r["step"] for r in tests], [r["test_accuracy"] for r in tests], "s",
                       label="test (dev-selected)")
    accuracy_axes.set(xlabel="step", ylabel="accuracy")
    accuracy_axes.legend()
    method, perturb, model, task, k, seed = (config.get(key, "?") for key in ("method", "perturb", "model", "task",
                                                                               "k", "seed"))
    figure.suptitle(f"{method}, {perturb} on {model} / {task}, k={k}, seed {seed}")
    figure.tight_layout()
    with files.staged_file(target) as staging:
        figure.savefig(staging, dpi=100, format="png")
    pyplot.close(figure)
