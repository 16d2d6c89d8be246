"""Running a sweep's points into its folder, resumably and by shards.

A sweep folder holds:

- `grids/<digest>.json`: every grid run into it;
- `points/<point name>/`: one training run each (train/loop.py: config.json, metrics.jsonl, summary.json,
  plot.png) and `point.json`, written last, when the point is finished: its settings, hardware cost and summary;
- the report (sweep/report.py).

A finished point (point.json) is never redone; a point cut short resumes from its last checkpoint, bit-identically
(a start cut short before its first checkpoint starts again). When a point finishes its weights (`best/`,
`checkpoint/`) are deleted unless kept, so a sweep keeps metrics, not model copies. Several workers may run in one
folder at once, from one machine or several sharing it: each point is locked while it runs, and a worker skips a
point another one holds. `shard` (i, n) gives a worker every n-th point from the i-th, for a job array.
"""
import json
import time

from pezo import files, reading
from pezo.train import distributed, models, records, zo
from pezo.train.config import Config
from pezo.train.loop import carry_out

from .cost import hardware_cost

SWEEP_OWNS = ["grids/", "points/", "results.json", "results.csv", "report.md", "guideline.md", "plots/"]
POINT_OWNS = records.OWNS + [records.ARCHIVED_METRICS, "point.json"]
POINT_RECORDS = tuple(name for name in POINT_OWNS if not name.endswith("/"))
"""What a finished point keeps (its files; its weights, the folders, are deleted unless kept), point.json last: it
marks the point finished."""
WEIGHTS = tuple(name.rstrip("/") for name in POINT_OWNS if name.endswith("/"))
"""The folders of a point that hold weights: checkpoint/ and best/."""


def grid_digest(grid):
    import hashlib
    return hashlib.sha256(json.dumps(grid, sort_keys=True).encode()).hexdigest()[:12]


def grid_file(grid):
    """(name, bytes) of the file under grids/ that records `grid` in a sweep folder."""
    return f"{grid_digest(grid)}.json", (json.dumps(grid, indent=1) + "\n").encode()


def run(grid, points, folder, shard=(1, 1), device="cpu", keep_weights=False, progress=True, log=print):
    """Run this shard's points of `grid` into `folder`; returns (finished, held by other workers) point names."""
    from tqdm import tqdm
    index, count = shard
    mine = points[index - 1::count]
    finished, held = [], []
    _preflight(mine, device)
    with files.work_folder(folder, SWEEP_OWNS, shared=True):
        name, text = grid_file(grid)
        files.write_file(folder / "grids" / name, text)
        bar = tqdm(mine, desc="points", disable=not progress, position=0)
        for point in bar:
            bar.set_postfix_str(point.label)
            try:
                record = run_point(point, folder / "points" / point.name, device, keep_weights, progress)
            except files.Busy:
                held.append(point.name)
                log(f"{point.name}: held by another worker, skipped")
                continue
            finished.append(point.name)
            summary = record["summary"]
            log(f"{point.name}: test {summary['test_accuracy']:.3f}, best dev {summary['best_dev_accuracy']:.3f} "
                f"at step {summary['best_step']}" + (f", {summary['stopped']}" if summary["stopped"] else ""))
        bar.close()
    return finished, held


def _preflight(points, device):
    """Refuse (ValueError, one line), before the sweep's folder is claimed, what would stop every point: a device
    this machine lacks, a model or a data file that cannot be found or read."""
    distributed.check_device(device)
    for name in sorted({point.settings["model"] for point in points}):
        models.check_available(name)
    for path in sorted({point.settings["data"] for point in points if point.settings["data"]}):
        reading.read_text(path, "examples (CSV or JSONL with text and label fields)")


POINT_KINDS = {"name": (str,), "label": (str,), "settings": (dict,), "cost": (dict, type(None)), "summary": (dict,),
               "wall_seconds": (float,), "device": (str,), "weights_kept": (bool,)}
"""A point.json's fields and their kinds."""


def read_point(path):
    """A finished point's record (point.json), checked: its fields, and its summary's, of their kinds."""
    record = reading.check_record(reading.read_json(path, "a sweep point's record"), path, "a sweep point's record",
                                  POINT_KINDS, required=tuple(POINT_KINDS))
    records.check_summary(record["summary"], f"{path} summary")
    return record


def run_point(point, folder, device="cpu", keep_weights=False, progress=False):
    """The record of a finished point (point.json): read where it exists, else trained (or resumed) and priced. Its
    device is the one the run finished on (its summary's, where it says): a run trained on another machine, its
    summary.json copied in, is priced here and keeps its own."""
    with files.work_folder(folder, POINT_OWNS):
        if (folder / "point.json").exists():
            return read_point(folder / "point.json")
        begin = time.perf_counter()
        cost = hardware_cost(point)
        summary = _trained(point, folder, device, progress)
        if not keep_weights:
            for name in WEIGHTS:
                files.discard(folder / name)
        record = {"name": point.name, "label": point.label, "settings": point.settings, "cost": cost,
                  "summary": summary, "wall_seconds": time.perf_counter() - begin,
                  "device": summary.get("device", device), "weights_kept": keep_weights}
        files.write_file(folder / "point.json", json.dumps(record, indent=1) + "\n")
        return record


def _trained(point, folder, device, progress):
    """The training summary of the point: a finished run's, or a run resumed or started now."""
    if (folder / "summary.json").exists():
        return records.check_summary(reading.read_json(folder / "summary.json", "a run's summary"),
                                     folder / "summary.json")
    config = point.config(folder, device)
    if (folder / "checkpoint" / records.STATE).exists():
        recorded = Config.from_record(reading.read_json(folder / "config.json", "a run's config"),
                                      folder / "config.json")      # settings added since: their defaults
        held = {name: getattr(recorded, name) for name in point.settings}
        wanted = {**point.settings, "method_args": zo.resolved(point.settings["method"], point.settings["method_args"])}
        held["method_args"] = zo.resolved(held["method"], held["method_args"])
        differing = sorted(name for name, value in wanted.items() if held[name] != value)
        if differing:
            raise reading.BadFile(f"{folder / 'config.json'} records {differing[0]}={held[differing[0]]!r}, "
                                  f"not this point's {wanted[differing[0]]!r}: the point folder was changed")
    return carry_out(config, resume=True, progress_bar=progress, held=True)[1]   # a start cut short starts again
