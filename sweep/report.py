"""A sweep's report, from the finished points of one or more sweep folders (the shards of one sweep, or one folder):

- `results.json` (every point's measures and cost, and the configurations' means; the points' loss trajectories
  and answers to each test example stay in their folders, whose metrics the report reads) and `results.csv` (one
  row per point);
- `plots/<field>.png` for each generator field that varies with all else fixed (pool `size` and RNG count
  `generators`: the PeZO paper's Figure 3; LFSR `width`: its Figure 4): test accuracy and final loss against it;
- `plots/pareto.png`: hardware cost (LUTs + FFs; pools also use BRAM) against final loss and test accuracy, the
  Pareto front marked; `plots/curves.png`: every point's learning curve; `plots/against-gaussian.png`: each
  configuration's loss minus MeZO's Gaussian's, step by step, over the seeds both ran; `plots/reach.png`: the loss
  of a generator of fewer distinct perturbations than steps minus the same generator's with more, step by step, K
  marked; `plots/variants.png`: each variant's loss (a leap, a zero-mean pool, scale compensation) minus its plain
  twin's, step by step, a line per seed;
- `report.md`: the table of configurations; `guideline.md`: what the data supports (sweep/guideline.py).
"""
import csv
import gzip
import io
import json

from pezo import files, reading
from pezo.train import records

from . import guideline, plots
from .grid import points as grid_points
from .measures import ANSWERS, configurations, point_row
from .run import POINT_OWNS, POINT_RECORDS, SWEEP_OWNS, grid_file, read_point

PER_POINT = ("losses", *ANSWERS)
"""A row's fields that stay in the points' folders, out of results.json and results.csv (a trajectory is 5,000
numbers a point: a sweep's results.json would grow by megabytes)."""


def collect(folders, part=None):
    """(planned point names, [(record, row, folder)] of the finished points, {name: bytes} of the grid files) of
    the sweep folders: of every grid run into them, or of the points of the grids `part` only (experiments of a
    folder that several share)."""
    planned, found, grids = {}, {}, {}
    for grid in part or []:
        grids.update([grid_file(grid)])
        for point in grid_points(grid):
            planned.setdefault(point.name, point)
    for folder in folders:
        paths = sorted((folder / "grids").glob("*.json")) if (folder / "grids").is_dir() else []
        if not paths:
            raise reading.BadFile(f"{folder} holds no sweep (no grids/*.json): give a folder `pezo sweep run` wrote")
        for path in paths if part is None else []:
            grids[path.name] = path.read_bytes()
            for point in grid_points(reading.read_json(path, "a sweep grid")):
                planned.setdefault(point.name, point)
        for path in sorted((folder / "points").glob("*/point.json")):
            if part is not None and path.parent.name not in planned:
                continue
            record = read_point(path)
            found.setdefault(record["name"], (record, point_row(record, path.parent), path.parent))
    return list(planned), [found[name] for name in planned if name in found], grids


def write(folders, out, with_points=False, part=None):
    """Write the report of `folders` (of the points of the grids `part` only, when given) into `out` (one of them,
    or a new folder); returns (finished, planned). `with_points`: also copy the grids and every finished point's
    records (no weights) into `out`, which is then a sweep folder of its own, that `run` continues and `write`
    reports (an archive of the sweep, shards joined, or experiments of a shared folder)."""
    planned, records, grids = collect(folders, part)
    if not records and part is not None:
        raise ValueError(f"none of the grids' {len(planned)} points has finished in {', '.join(map(str, folders))} "
                         f"(a point run with other settings is another point): nothing to report")
    if not records:
        raise ValueError(f"no point of {', '.join(map(str, folders))} has finished: nothing to report")
    groups = configurations([(record, row) for record, row, _ in records])
    rows = [row for _, row, _ in records]
    with files.work_folder(out, SWEEP_OWNS, shared=True):
        if with_points:
            _copy_points(grids, [folder for _, _, folder in records], out)
        files.write_file(out / "results.json", json.dumps(
            {"planned": len(planned), "finished": len(rows), "missing": [n for n in planned if n not in
                                                                        {r["name"] for r in rows}],
             "points": [{name: value for name, value in row.items() if name not in PER_POINT} for row in rows],
             "configurations": [_summary(group) for group in groups]}, indent=1) + "\n")
        files.write_file(out / "results.csv", _csv(rows))
        made = plots.write_all(groups, out / "plots")
        files.write_file(out / "report.md", _table(groups, len(rows), len(planned), made))
        files.write_file(out / "guideline.md", guideline.text(groups))
    return len(rows), len(planned)


def _copy_points(grids, points, out):
    """The grid files and the finished points' records (POINT_RECORDS, point.json last: it marks a point
    finished; the metrics gzip-compressed, as records.ARCHIVED_METRICS) into the sweep folder `out`; a point
    finished there already is left as it is."""
    for name, text in grids.items():
        if not (out / "grids" / name).exists() or (out / "grids" / name).read_bytes() != text:
            files.write_file(out / "grids" / name, text)
    for folder in points:
        target = out / "points" / folder.name
        if folder.resolve() == target.resolve() or (target / "point.json").exists():
            continue
        with files.work_folder(target, POINT_OWNS):
            for name in POINT_RECORDS:
                if (folder / name).exists():
                    data = (folder / name).read_bytes()
                    if name == records.METRICS:
                        name, data = records.ARCHIVED_METRICS, gzip.compress(data, mtime=0)
                    files.write_file(target / name, data)


def _summary(group):
    return {"label": group.label, "settings": group.settings, "seeds": [row["seed"] for row in group.rows],
            "cost": group.cost, **{f"{name}{suffix}": value for name in ("final_loss", "test_accuracy")
                                   for suffix, value in (("", group.mean(name)), ("_se", group.se(name)))}}


def _csv(rows):
    buffer = io.StringIO()
    names = [name for name in rows[0] if name not in PER_POINT]
    writer = csv.DictWriter(buffer, names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _table(groups, finished, planned, made):
    lines = [f"# Sweep report: {finished} of {planned} points finished", "",
             "Final loss: mean train loss over the last fifth of the steps; ± is the standard error of the mean "
             "over the seeds (guideline.md says how it is formed). Test accuracy: the dev-selected weights.", "",
             "K: distinct perturbations over a whole run (unbounded for fresh random values); E[u^2]: the source's "
             "mean square (golden/quality.py, `pezo quality`).", "",
             "| configuration | seeds | K | E[u^2] | LUTs + FFs | BRAM36 | LUT levels | final loss | test accuracy | "
             "median step s | stopped |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for group in groups:
        cost = group.cost
        shown = (f"{cost['lut_ff']:,} | {cost['bram36']:g} | {cost['lut_levels']}" if cost else "– | – | –")
        stopped = sum(bool(row["stopped"]) for row in group.rows)
        seconds = sorted(row["step_seconds"] for row in group.rows)[len(group.rows) // 2]
        lines.append(f"| {group.label} | {len(group.rows)} | {guideline.reach(group)} | "
                     f"{guideline.mean_square(group)} | {shown} | {group.shown('final_loss')} | "
                     f"{group.shown('test_accuracy')} | {seconds:.3g} | {stopped} |")
    lines += ["", *[f"![{name}](plots/{name})" for name in made]]
    return "\n".join(lines) + "\n"
