"""`pezo sweep` on a tiny offline model: grids, the smoke preset end to end, resume of an interrupted point, shards
and their merge, workers sharing a folder, and clear errors for bad grids."""
import gzip
import json
import math

import pytest

import train_tiny
from pezo import files
from pezo.cli import main
from pezo.train import quality
from pezo.sweep import analysis
from pezo.sweep import grid as grids
from pezo.sweep import guideline, plots
from pezo.sweep import measures
from pezo.sweep import run as sweep_run
from pezo.sweep.presets import PRESETS
from pezo.train import loop, models, records

SMALL = {"train": {"k": 4, "batch_size": 4, "steps": 6, "eval_every": 3, "test_size": 12, "lr": 0.05, "eps": 0.01},
         "grid": [{"perturb": "pezo-otf", "generators": [3, 7], "width": 4}, {"perturb": "gaussian", "seed": 2}]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {"model": train_tiny.causal_folder(folder / "causal"), "data": train_tiny.sentiment_csv(folder / "r.csv")}


def small(tiny, **train):
    return {"train": {**SMALL["train"], "model": tiny["model"], "data": tiny["data"], **train}, "grid": SMALL["grid"]}


def sweep(tiny, out, *options):
    return main(["sweep", "run", "--model", tiny["model"], "--data", tiny["data"], "--no-progress", "--out", str(out),
                 *options])


def without_times(folder):
    """A point's metrics without their timings and the run's folder."""
    return [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "out")}
            for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_grid_crosses_blocks_and_drops_fields_a_source_lacks():
    found = grids.points({"grid": [{"perturb": ["gaussian", "pezo-pool"], "size": [255, 1023], "seed": [0, 1]}]})
    assert [p.label for p in found] == ["gaussian, zo-sgd, seed 0", "gaussian, zo-sgd, seed 1",
                                        "pezo-pool 255x12, zo-sgd, seed 0", "pezo-pool 255x12, zo-sgd, seed 1",
                                        "pezo-pool 1023x12, zo-sgd, seed 0", "pezo-pool 1023x12, zo-sgd, seed 1"]
    assert found[2].spec.size == 255 and found[2].spec.bits == 12 and found[0].spec is None
    assert found[0].config("x").lr == 1e-6           # pezo train's defaults where the grid is silent
    again = grids.points({"grid": [{"perturb": "pezo-pool", "size": 1023, "seed": 1}, {"perturb": "gaussian"}]})
    assert again[0].name == found[5].name and again[1].name == found[0].name     # a point is what it is


def test_labels_name_numerics_and_forward_where_not_the_defaults():
    found = grids.points({"train": {"eps": 2.0 ** -10}, "grid": [
        {"perturb": "pezo-otf", "numerics": ["in-place", "engine-bf16"]}, {"perturb": "gaussian", "forward": "bf16"}]})
    assert [p.label for p in found] == ["pezo-otf 31x8, zo-sgd, seed 0",
                                        "pezo-otf 31x8, zo-sgd, numerics engine-bf16, seed 0",
                                        "gaussian, zo-sgd, forward bf16, seed 0"]


def test_configuration_labels_name_each_setting_once():
    found = grids.points({"train": {"eps": 2.0 ** -10}, "grid": [
        {"perturb": "pezo-otf", "numerics": ["in-place", "engine"], "lr": [1e-5, 1e-6]}]})
    labels = [item.label for item in measures.configurations([({"settings": p.settings}, {}) for p in found])]
    assert labels == ["pezo-otf 31x8, zo-sgd (lr 1e-05)", "pezo-otf 31x8, zo-sgd (lr 1e-06)",
                      "pezo-otf 31x8, zo-sgd, numerics engine (lr 1e-05)",
                      "pezo-otf 31x8, zo-sgd, numerics engine (lr 1e-06)"]

    switched = grids.points({"train": {"top_blocks": 2}, "grid": [
        {"perturb": "gaussian", "answer_row": [False, True], "packed": [False, True]}]})
    labels = [item.label for item in measures.configurations([({"settings": p.settings}, {}) for p in switched])]
    assert labels == ["gaussian, zo-sgd", "gaussian, zo-sgd (packed)", "gaussian, zo-sgd (answer row)",
                      "gaussian, zo-sgd (answer row, packed)"]


def test_a_point_run_before_a_setting_existed_groups_with_its_default():
    found = grids.points({"grid": [{"perturb": "gaussian", "seed": [0, 1]}]})
    earlier = {name: value for name, value in found[0].settings.items() if name != "answer_row"}
    groups = measures.configurations([({"settings": earlier}, {}), ({"settings": found[1].settings}, {})])
    assert len(groups) == 1 and groups[0].label == "gaussian, zo-sgd" and len(groups[0].rows) == 2


def test_front_treats_differences_within_noise_as_ties():
    """A dearer configuration whose loss is lower only within noise is off the front; beyond noise it is on it; and
    without a noise estimate the means decide."""
    def configuration(label, lut_ff, bram36, loss, se):
        row = {"seed": label, "loss_window": 1, "final_loss": loss, "final_loss_se": se, "cost_lut_ff": lut_ff,
               "cost_bram36": bram36}
        return measures.Configuration(label, label, {}, [row])

    cheap, dear = configuration("cheap", 100, 0, 0.42, 0.01), configuration("dear", 150, 1, 0.40, 0.01)
    other = configuration("other", 90, 2, 0.45, 0.01)
    assert [group.label for group in analysis.front([cheap, dear, other])] == ["cheap", "other"]
    better = configuration("dear", 150, 1, 0.35, 0.01)
    assert [group.label for group in analysis.front([cheap, better, other])] == ["cheap", "dear", "other"]
    unknown = [configuration(*item, float("nan")) for item in (("cheap", 100, 0, 0.42), ("dear", 150, 1, 0.40))]
    assert [group.label for group in analysis.front(unknown)] == ["cheap", "dear"]


def test_override_replaces_a_field_everywhere():
    grid = grids.override(PRESETS["figure3-rngs"], {"steps": 7, "seed": [0, 1]})
    found = grids.points(grid)
    assert len(found) == 10 and {p.settings["steps"] for p in found} == {7}
    assert {p.settings["seed"] for p in found} == {0, 1}


def test_paper_preset_has_the_papers_points():
    found = grids.points(PRESETS["paper"])
    assert len(found) == 23 and len({p.name for p in found}) == 23
    pools = sorted(p.spec.size for p in found if p.settings["perturb"] == "pezo-pool")
    assert pools == [255, 1023, 4095, 4096, 16383, 65535]
    assert {p.settings["perturb"] for p in found} == set(PRESETS["table3"]["grid"][0]["perturb"])


def test_yaml_grid_reads_exponent_numbers(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("train: {lr: 1e-5, steps: 3}\ngrid:\n  - perturb: pezo-otf\n    width: [6, 8]\n")
    found = grids.points(grids.read_grid(path))
    assert [p.settings["lr"] for p in found] == [1e-5, 1e-5] and [p.spec.width for p in found] == [6, 8]


@pytest.mark.parametrize("grid, says", [
    ({"grid": [{"perturb": "pezo-otf", "generators": 31, "width": 4}]}, "generators=31 is out of range"),
    ({"grid": [{"perturb": "normal"}]}, "perturb 'normal' is unknown"),
    ({"grid": [{"sizes": [1, 2]}]}, "field 'sizes' is unknown"),
    ({"grid": [{"perturb": []}]}, "field 'perturb' has an empty list"),
    ({"grid": [{"lr": "fast"}]}, 'lr="fast" is not a number'),
    ({"grid": [{"steps": 2.5}]}, "steps=2.5 is not an integer"),
    ({"grid": [{"method": "zo-adam", "method_args": {"beta": 0.9}}]},
     "method zo-adam takes no argument 'beta': allowed queries"),
    ({"train": {"seed": [0, 1]}, "grid": [{}]}, "takes one value, not a list"),
    ({"grids": []}, "grid key 'grids' is unknown"),
    ({"grid": []}, "non-empty list"),
    # every point is checked as pezo train checks its options, before anything runs (--list included)
    ({"grid": [{"perturb": "gaussian", "lr": [1e-3, -1]}]}, "lr=-1.0 is out of range"),
    ({"grid": [{"eps": [1e-3, 0]}]}, "block 1 .*eps=0.0 is out of range"),
    ({"grid": [{"lr": 1e400}]}, "lr=inf is out of range"),
    ({"grid": [{"weight_decay": -0.1}]}, "weight_decay=-0.1 is out of range"),
    ({"grid": [{"peft": "nope"}]}, "peft 'nope' is unknown"),
    ({"grid": [{"peft": "lora", "lora_r": [8, 0]}]}, "lora_r=0 is out of range"),
])
def test_bad_grids_name_the_bad_value(grid, says):
    with pytest.raises(ValueError, match=says):
        grids.points(grid)


def test_bad_grid_exits_2_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"grid": [{"perturb": "pezo-pool", "size": [255, 0]}]}))
    assert main(["sweep", "run", "--grid", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "size=0 is out of range" in error and "block 1" in error
    assert not (tmp_path / "out").exists()
    path.write_text("[1, 2")
    assert main(["sweep", "run", "--grid", str(path), "--out", str(tmp_path / "out")]) == 2
    assert str(path) in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["sweep", "run", "--preset", "smoke", "--shard", "3/2", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and "'3/2' is not I/N" in capsys.readouterr().err
    for argv in (["sweep", "run", "--preset", "smoke", "--shard", "11/20", "--out", str(tmp_path / "out")],
                 ["sweep", "report", str(tmp_path)], ["sweep", "run", "--preset", "smoke"]):
        assert main(argv) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_smoke_preset_end_to_end(tiny, tmp_path, capsys):
    out = tmp_path / "smoke"
    assert sweep(tiny, out, "--preset", "smoke") == 0
    names = [p.name for p in grids.points(grids.override(PRESETS["smoke"], {"model": tiny["model"],
                                                                             "data": tiny["data"]}))]
    for name in names:
        point = out / "points" / name
        record = json.loads((point / "point.json").read_text())
        assert record["name"] == name and record["summary"]["steps_done"] == 10
        assert not (point / "best").exists() and not (point / "checkpoint").exists()   # metrics, no weights
        assert (record["cost"] is None) == (record["settings"]["perturb"] == "gaussian")
    results = json.loads((out / "results.json").read_text())
    assert results["finished"] == results["planned"] == 10 and not results["missing"]
    assert [row["name"] for row in results["points"]] == names
    pool = next(row for row in results["points"] if row["perturb"] == "pezo-pool")
    losses = [r["loss"] for r in map(json.loads, (out / "points" / pool["name"] / "metrics.jsonl").read_text()
                                        .splitlines()) if "seconds" in r and "event" not in r]
    assert pool["cost_design"] == "pezo_pool_7x8" and pool["cost_lut_ff"] > 0 and len(losses) == 10
    assert pool["loss_window"] == 2 and pool["final_loss"] == sum(losses[-2:]) / 2
    assert not any(name in row for row in results["points"] for name in ("losses", "test_answers"))
    assert (out / "results.csv").read_text().count("\n") == 11
    for plot in ("size", "generators", "width", "pareto", "curves"):
        assert (out / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    guideline = (out / "guideline.md").read_text()
    assert "## On the Pareto front" in guideline and "## Against MeZO's Gaussian" in guideline
    assert "## Resolving power" in guideline and "## Reach and scale of each source" in guideline
    assert "| configuration |" in (out / "report.md").read_text()
    before = {name: (out / "points" / name / "point.json").stat().st_mtime_ns for name in names}
    capsys.readouterr()
    assert sweep(tiny, out, "--preset", "smoke") == 0                   # finished points are never redone
    assert before == {name: (out / "points" / name / "point.json").stat().st_mtime_ns for name in names}


def test_an_interrupted_point_resumes_bit_identically(tiny, tmp_path, monkeypatch):
    grid = small(tiny)
    found = grids.points(grid)
    sweep_run.run(grid, found, tmp_path / "whole", progress=False, log=lambda line: None)
    original = loop.Run._step

    def interrupted(run):
        if run.progress.step == 4:
            raise KeyboardInterrupt
        original(run)

    monkeypatch.setattr(loop.Run, "_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep_run.run(grid, found, tmp_path / "cut", progress=False, log=lambda line: None)
    first = tmp_path / "cut" / "points" / found[0].name
    assert (first / "checkpoint").exists() and not (first / "point.json").exists()
    monkeypatch.setattr(loop.Run, "_step", original)
    sweep_run.run(grid, found, tmp_path / "cut", progress=False, log=lambda line: None)
    for point in found:
        whole, cut = (tmp_path / run / "points" / point.name for run in ("whole", "cut"))
        resumed = [r for r in without_times(cut) if r.get("event") != "resume"]
        assert resumed == without_times(whole)


def test_a_run_finished_elsewhere_is_priced_and_keeps_its_device(tiny, tmp_path):
    """A point whose run finished on another machine (its summary.json there, no point.json yet: trained where
    Yosys is missing, say) is priced without training again, and its record names the device it trained on."""
    grid = small(tiny)
    first = grids.points(grid)[0]
    sweep_run.run(grid, [first], tmp_path, progress=False, log=lambda line: None)
    folder = tmp_path / "points" / first.name
    (folder / "point.json").unlink()
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "device": "cuda:3"}))
    metrics = (folder / "metrics.jsonl").read_bytes()
    sweep_run.run(grid, [first], tmp_path, progress=False, log=lambda line: None)
    record = json.loads((folder / "point.json").read_text())
    assert record["device"] == "cuda:3" and record["summary"]["device"] == "cuda:3"
    assert (folder / "metrics.jsonl").read_bytes() == metrics


def test_shards_split_the_points_and_merge(tiny, tmp_path, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(small(tiny)))
    for shard in ("1/2", "2/2"):
        assert main(["sweep", "run", "--grid", str(grid), "--shard", shard, "--no-progress",
                     "--out", str(tmp_path / shard[0])]) == 0
    ran = [sorted(path.name for path in (tmp_path / index / "points").iterdir()) for index in "12"]
    found = [p.name for p in grids.points(small(tiny))]
    assert ran == [sorted(found[0::2]), sorted(found[1::2])]
    assert json.loads((tmp_path / "1" / "results.json").read_text())["missing"] == found[1::2]
    assert main(["sweep", "report", str(tmp_path / "1"), str(tmp_path / "2"), "--out", str(tmp_path / "all")]) == 0
    merged = json.loads((tmp_path / "all" / "results.json").read_text())
    assert [row["name"] for row in merged["points"]] == found and not merged["missing"]


def test_a_report_with_points_is_a_sweep_folder_that_run_continues(tiny, tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(small(tiny)))
    found = [p.name for p in grids.points(small(tiny))]
    assert main(["sweep", "run", "--grid", str(grid), "--shard", "1/2", "--no-progress",
                 "--out", str(tmp_path / "shard")]) == 0
    archive = tmp_path / "docs" / "archive"
    assert main(["sweep", "report", str(tmp_path / "shard"), "--out", str(archive), "--points"]) == 0
    assert sorted(path.name for path in (archive / "points").iterdir()) == sorted(found[0::2])
    for name in found[0::2]:
        kept, original = archive / "points" / name, tmp_path / "shard" / "points" / name
        copied = set(sweep_run.POINT_RECORDS) - {records.METRICS}
        assert sorted(path.name for path in kept.iterdir() if not path.name.startswith(".")) == sorted(copied)
        for record in copied - {records.ARCHIVED_METRICS}:
            assert (kept / record).read_bytes() == (original / record).read_bytes()
        assert gzip.decompress((kept / records.ARCHIVED_METRICS).read_bytes()) == \
            (original / records.METRICS).read_bytes()          # metrics compressed, every byte kept
    before = {name: (archive / "points" / name / "point.json").stat().st_mtime_ns for name in found[0::2]}
    assert main(["sweep", "run", "--grid", str(grid), "--no-progress", "--out", str(archive)]) == 0
    assert before == {name: (archive / "points" / name / "point.json").stat().st_mtime_ns for name in found[0::2]}
    assert json.loads((archive / "results.json").read_text())["finished"] == len(found)     # the rest ran there
    assert main(["sweep", "report", str(tmp_path / "shard"), "--out", str(tmp_path / "from-shard")]) == 0
    shown = [row for row in json.loads((archive / "results.json").read_text())["points"] if row["name"] in found[0::2]]
    assert shown == json.loads((tmp_path / "from-shard" / "results.json").read_text())["points"]


def test_one_experiment_of_a_shared_folder_is_reported_and_archived_alone(tiny, tmp_path, capsys):
    """Two grids run into one folder, sharing a point (it trains once); `report --grid` reports and archives one
    of them: its points only, its grid file only, and an archive that `run` continues without training; given both
    grids, the union of their points."""
    first, second = small(tiny), small(tiny)
    second["grid"] = [{"perturb": "pezo-otf", "generators": 7, "width": 4}, {"perturb": "uniform", "seed": 2}]
    names = [[p.name for p in grids.points(grid)] for grid in (first, second)]
    assert set(names[0]) & set(names[1]) == {names[0][1]}
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    for path, grid in zip(paths, (first, second)):
        path.write_text(json.dumps(grid))
        assert main(["sweep", "run", "--grid", str(path), "--no-progress", "--out", str(tmp_path / "shared")]) == 0
    assert len(list((tmp_path / "shared" / "points").iterdir())) == 4
    archive = tmp_path / "second"
    assert main(["sweep", "report", str(tmp_path / "shared"), "--grid", str(paths[1]), "--out", str(archive),
                 "--points"]) == 0
    assert sorted(path.name for path in (archive / "points").iterdir()) == sorted(names[1])
    assert [path.name for path in (archive / "grids").iterdir()] == [sweep_run.grid_file(second)[0]]
    results = json.loads((archive / "results.json").read_text())
    assert results["planned"] == results["finished"] == 2 and [row["name"] for row in results["points"]] == names[1]
    before = {name: (archive / "points" / name / "point.json").stat().st_mtime_ns for name in names[1]}
    assert main(["sweep", "run", "--grid", str(paths[1]), "--no-progress", "--out", str(archive)]) == 0
    assert before == {name: (archive / "points" / name / "point.json").stat().st_mtime_ns for name in names[1]}
    assert sorted(path.name for path in (archive / "grids").iterdir()) == [sweep_run.grid_file(second)[0]]
    capsys.readouterr()
    for out in ([], ["--out", str(tmp_path / "shared")]):
        assert main(["sweep", "report", str(tmp_path / "shared"), "--grid", str(paths[1]), *out]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "give an --out of its own" in error
    other = tmp_path / "other.json"
    other.write_text(json.dumps(small(tiny, steps=7)))                       # run with other settings: not run here
    assert main(["sweep", "report", str(tmp_path / "shared"), "--grid", str(other), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "none of the grids' 3 points has finished" in error
    assert not (tmp_path / "o").exists()
    assert main(["sweep", "report", str(tmp_path / "shared"), "--grid", *map(str, paths), "--out",
                 str(tmp_path / "both")]) == 0
    results = json.loads((tmp_path / "both" / "results.json").read_text())
    assert results["planned"] == results["finished"] == 4


def test_a_point_another_worker_holds_is_skipped(tiny, tmp_path):
    grid = small(tiny)
    found = grids.points(grid)
    held = tmp_path / "sweep" / "points" / found[1].name
    with files.work_folder(tmp_path / "sweep", sweep_run.SWEEP_OWNS, shared=True), \
            files.work_folder(held, sweep_run.POINT_OWNS):                 # the other worker
        finished, busy = sweep_run.run(grid, found, tmp_path / "sweep", progress=False, log=lambda line: None)
    assert busy == [found[1].name] and finished == [found[0].name, found[2].name]
    assert not (held / "point.json").exists()


def test_sweep_refuses_a_folder_it_did_not_write(tiny, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    assert sweep(tiny, tmp_path, "--preset", "smoke") == 2
    assert "mine.txt" in capsys.readouterr().err and (tmp_path / "mine.txt").read_text() == "keep"


def test_guideline_says_where_dev_selection_kept_the_starting_weights():
    def configuration(perturb, loss, se, best_step):
        seed = len(perturb)                     # no seed in common: differences of means
        row = {"seed": seed, "final_loss": loss, "final_loss_se": se, "test_accuracy": 0.78,
               "test_accuracy_se": 0.02,
               "loss_window": 20, "stopped": "", "best_step": best_step, "cost_lut_ff": None, "cost_bram36": None,
               **{f"quality_{name}": value for name, value in
                  quality.of_settings({"perturb": perturb, "spec": None, "model": "rt-tiny"}).items()}}
        settings = {"perturb": perturb, "spec": None, "model": "m", "task": "rt", "steps": 100, "batch_size": 16,
                    "lr": 1e-5, "eps": 1e-3, "k": 16}
        return measures.Configuration(perturb, perturb, settings, [row])

    text = guideline.text([configuration("gaussian", 0.41, 0.015, 50), configuration("uniform-raw", 0.6931, 0.0, 0),
                           configuration("rademacher", 0.42, 0.015, 75)])
    assert ("- uniform-raw: final loss 0.6931 ± 0 (difference +0.283 ± 0.015: higher), test accuracy 0.78 ± 0.02 "
            "(difference +0 ± 0.028: not different beyond noise); in 1 of 1 runs no step beat the starting weights on "
            "dev, so the test accuracy is theirs." in text)
    assert ("- rademacher: final loss 0.42 ± 0.015 (difference +0.01 ± 0.021: not different beyond noise), test "
            "accuracy 0.78 ± 0.02 (difference +0 ± 0.028: not different beyond noise).\n" in text)
    assert "| uniform-raw | 84,640 | 100 | 7,905 | <= 7,905 | full | 5.42e+03 | 0.48 (30) | no |" in text
    assert "| gaussian | 84,640 | 100 | unbounded | min(steps, d) | full | 1 | 0 (independent) | no |" in text


def test_a_diverged_run_does_not_set_the_plots_quality_range():
    assert plots._inlier_range([0.41, 0.42, 0.40, 0.43, 0.6931], [0.015] * 5) == (0.40, 0.43)
    assert plots._inlier_range([0.41, 0.6931], [0.015] * 2) == (0.41, 0.6931)      # too few to call one an outlier
    accuracies = [0.786] * 10 + [0.782, 0.79]          # mostly equal: the standard errors set the scale
    assert plots._inlier_range(accuracies, [0.018] * 12) == (0.782, 0.79)


def test_learning_curves_are_running_means():
    assert plots.smoothed([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert plots.smoothed([5.0], 50) == [5.0]


def test_guideline_names_the_cheapest_generators_that_train_as_the_gaussian_does():
    """Hardware configurations not worse than the Gaussian's beyond noise, without BRAM first, then by LUTs + FFs;
    one whose loss is higher beyond noise is left out, and so are sources without hardware."""
    def configuration(perturb, loss, cost, reach):
        row = {"seed": len(perturb), "final_loss": loss, "final_loss_se": 0.003, "test_accuracy": 0.79,
               "test_accuracy_se": 0.009, "loss_window": 1000, "quality_reach": reach,
               "cost_lut_ff": cost[0] if cost else None, "cost_bram36": cost[1] if cost else None}
        return measures.Configuration(perturb, perturb, {"perturb": perturb, "steps": 5000}, [row])

    groups = [configuration("gaussian", 0.414, None, None), configuration("rademacher", 0.414, None, None),
              configuration("pool", 0.41, (112, 1.5), 455), configuration("otf", 0.413, (820, 0), 465),
              configuration("cheap", 0.45, (50, 0), 7)]
    lines = guideline._choice_section(groups)
    rows = [line.split(" | ")[0] for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["| otf", "| pool"]
    assert "| otf | 820 | 0 | 465 | 5000 | -0.001 ± 0.0042 | +0 ± 0.013 |" in lines
    none = guideline._choice_section(groups[:2] + groups[4:])
    assert none[-2] == "None of this sweep's hardware configurations does."


def test_a_diverged_run_does_not_flatten_the_learning_curves():
    """The loss axis spans the curves of configurations whose final loss is no outlier; the diverged one (its loss
    up to 240, then ln 2) is labelled clipped."""
    import matplotlib
    matplotlib.use("Agg")
    generator = __import__("random").Random(3)
    groups = [paired_configuration(name, offset, [[generator.gauss(0, 0.01) for _ in range(40)]] * 2, [None] * 2)
              for name, offset in (("a", 0.0), ("b", 0.01), ("c", 0.02), ("d", 0.005))]
    diverged = paired_configuration("raw", 0.2931, [[0.0] * 40] * 2, [None] * 2)
    for row in diverged.rows:
        row["losses"][:5] = [240.0] * 5
    figure = plots._curves(groups + [diverged])
    axes, = figure.axes
    bottom, top = axes.get_ylim()
    assert 0.35 < bottom < 0.4 and 0.42 < top < 0.5
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels == ["a", "b", "c", "d", "raw (clipped)"]


def test_many_configurations_get_a_learning_curve_panel_each():
    """From PANELS_FROM configurations on: a panel per configuration titled by its label, a line per seed coloured
    by seed alike in every panel, the spare panels of the last row hidden, one loss axis for all."""
    import matplotlib
    matplotlib.use("Agg")
    groups = [paired_configuration(f"c{index}", 0.01 * index, [[0.0] * 40] * 2, [None] * 2)
              for index in range(plots.PANELS_FROM)]
    figure = plots._curves(groups)
    shown = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title() for axes in shown] == [f"c{index}" for index in range(plots.PANELS_FROM)]
    assert len(figure.axes) == 4 * math.ceil(plots.PANELS_FROM / 4)
    for axes in shown:
        assert [(line.get_label(), line.get_color()) for line in axes.get_lines()] == [("seed 0", "C0"),
                                                                                      ("seed 1", "C1")]
    assert len({axes.get_ylim() for axes in shown}) == 1


def test_guideline_states_its_resolving_power():
    def configuration(name, loss, se):
        row = {"seed": len(name), "final_loss": loss, "final_loss_se": se, "test_accuracy": 0.8,
               "test_accuracy_se": 0.01,
               "loss_window": 20, "stopped": "", "best_step": 1, "cost_lut_ff": None, "cost_bram36": None,
               **{f"quality_{key}": value for key, value in
                  quality.of_settings({"perturb": "gaussian", "spec": None, "model": "rt-tiny"}).items()}}
        settings = {"perturb": name, "spec": None, "model": "m", "task": "rt", "steps": 100, "batch_size": 16,
                    "lr": 1e-5, "eps": 1e-3, "k": 16}
        return measures.Configuration(name, name, settings, [row])

    groups = [configuration("gaussian", 0.40, 0.01), configuration("rademacher", 0.41, 0.01),
              configuration("uniform", 0.42, 0.03)]
    # the median of the pairs' errors: sqrt(0.01^2 + 0.01^2), sqrt(0.01^2 + 0.03^2) twice
    assert guideline.resolution(groups, "final_loss") == pytest.approx(2 * 0.001 ** 0.5)
    assert ("differ by more than 0.0632 (15.4% of the median final loss) and whose test accuracies differ by more "
            "than 0.0283 (2.8 points)" in guideline.text(groups))
    assert ("with a median of 1 seed per configuration: accuracy not met (about 4 seeds would meet it at this "
            "noise); final loss not met (about 60 seeds would meet it at this noise)." in guideline.text(groups))
    assert guideline._against(0.015, 0.015, 3) == "met" and guideline._against(math.nan, 0.015, 3) == "unknown"
    assert "The rule calls about 5% of comparisons between configurations that do not differ different" in \
        guideline.text(groups)                   # two SEs: erfc(2 / sqrt(2)) = 0.0455 of normal errors
    assert "(with 3, about 18%: Student's t of 2 degrees of freedom)" in guideline.text(groups)   # 1 - 2 / sqrt(6)


def paired_configuration(name, offset, shared, answers):
    """A configuration of two seeds whose losses are the seed's shared noise plus `offset`, and whose answers to
    8 test examples are `answers` (a string of 0 and 1 per seed, or None)."""
    rows = []
    for seed, (noise, right) in enumerate(zip(shared, answers)):
        losses = [0.4 + offset + value for value in noise]
        answers = {"labels": [0, 1] * 4, "right": [int(bit) for bit in right]} if right else None
        rows.append({"seed": seed, "losses": losses, "loss_window": len(losses), "steps_done": 50,
                     "final_loss": sum(losses) / len(losses), "final_loss_se": 0.01,
                     "test_accuracy": right.count("1") / 8 if right else 0.5, "test_accuracy_se": 0.18,
                     "test_answers": answers})
    return measures.Configuration(name, name, {}, rows)


def test_paired_differences_cancel_the_noise_two_runs_of_one_seed_share():
    generator = __import__("random").Random(5)
    shared = [[generator.gauss(0, 0.05) for _ in range(40)] for _ in range(2)]
    first = paired_configuration("a", 0.0, shared, ["11110000", "11111100"])
    second = paired_configuration("b", 0.003, shared, ["11100000", "11111000"])
    value, noise = analysis.paired(second, first, "final_loss")
    assert value == pytest.approx(0.003) and noise < 1e-12               # the shared noise cancels exactly
    unpaired = math.sqrt(first.se("final_loss") ** 2 + second.se("final_loss") ** 2)
    assert unpaired > 0.005 and analysis.differs(second, first, "final_loss")    # beyond noise only when paired
    # answers: per seed one example of 8 differs (-1/8; its error sqrt(1/8) / sqrt(8)); the seeds agree, so the
    # error of their mean is the seeds' own
    value, noise = analysis.paired(second, first, "test_accuracy")
    assert value == pytest.approx(-0.125) and noise == pytest.approx(math.sqrt(2) * 0.125 / 2)
    # without recorded answers (or on another test set) the accuracies are compared as they are
    blind = paired_configuration("c", 0.0, shared, [None, None])
    assert analysis.paired(blind, first, "test_accuracy") == (pytest.approx(0.5 - 0.625), pytest.approx(0.18))
    alone = measures.Configuration("d", "d", {}, [{**first.rows[0], "seed": 7}])
    assert analysis.paired(alone, first, "final_loss") is None
    one = measures.Configuration("e", "e", {}, [second.rows[0]])     # one shared seed: its runs' noise alone
    assert analysis.paired(one, first, "final_loss") is None
    assert analysis.difference(alone, first, "final_loss")[1] > 0.005
    # one seed in common: the means over that seed only (the other seed's own level left out)
    assert analysis.difference(one, first, "final_loss") == (pytest.approx(0.003),
                                                             pytest.approx(math.sqrt(2) * 0.01))


def test_guideline_sets_each_configuration_against_its_starting_weights():
    """Gain over zero-shot, paired example by example over the runs that recorded their starting weights' answers:
    per seed two of 8 examples gained (+0.25, error sqrt(12/56) / sqrt(8)); the seeds agree."""
    shared = [[0.0] * 20, [0.0] * 20]
    group = paired_configuration("gaussian", 0.0, shared, ["11110000", "11111100"])
    for row, start in zip(group.rows, ["11000000", "11110000"]):
        row.update(start_answers={"labels": [0, 1] * 4, "right": [int(bit) for bit in start]},
                   start_test_accuracy=start.count("1") / 8)
    untouched = paired_configuration("old", 0.0, shared, ["11110000", "11111100"])     # no starting answers
    lines = guideline._zero_shot_section([group, untouched])
    noise = math.sqrt(2 * (12 / 56) / 8) / 2
    assert lines[-2] == f"| gaussian | 2 | 0.625 ± 0.13 | 0.375 ± 0.12 | difference +0.25 ± {noise:.2g}: higher |"
    assert not any("old" in line for line in lines)
    assert guideline._zero_shot_section([untouched]) == []
    small = paired_configuration("small", 0.0, shared, ["11110000", "11110001"])      # a gain within noise
    for row, start in zip(small.rows, ["11100000", "11110010"]):
        row.update(start_answers={"labels": [0, 1] * 4, "right": [int(bit) for bit in start]},
                   start_test_accuracy=start.count("1") / 8)
    assert guideline._zero_shot_section([small])[-2] == (          # 2 seeds x (2 x 0.113 / 0.0625)^2 = 26.3
        "| small | 2 | 0.5625 ± 0.13 | 0.5 ± 0.12 | difference +0.0625 ± 0.11: not different beyond noise; about 27 "
        "seeds would resolve it |")


def test_a_difference_that_cancels_is_shown_as_zero():
    """Seeds' differences of +0.1, +0.2 and -0.3 cancel, but not in floats: their mean is float rounding, shown as
    zero rather than as 2e-17."""
    assert guideline._estimate((0.1 + 0.2 - 0.3) / 3, 0.0043) == "+0 ± 0.0043"
    assert guideline._estimate(-0.00183, 0.0036) == "-0.00183 ± 0.0036"


def test_a_paired_loss_error_comes_from_block_means():
    """The steps' differences drift slowly (correlated): block means see the drift a per-step error misses."""
    drift = __import__("numpy").linspace(-0.01, 0.01, 100)
    per_step = float(drift.std(ddof=1) / 10)
    blocks = analysis._block_error(drift)
    means = [drift[i:i + 10].mean() for i in range(0, 100, 10)]
    assert blocks == pytest.approx(float(__import__("numpy").std(means, ddof=1) / 10 ** 0.5))
    assert blocks > 2 * per_step


@pytest.mark.parametrize("grid", [{"grid": None}, {"grid": []}, {"train": {"steps": 2}}, {"grid": [[]]},
                                  {"grid": "gaussian"}])
def test_a_grid_without_blocks_is_refused_not_run_as_one_point(grid, tmp_path, capsys):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    assert main(["sweep", "run", "--grid", str(path), "--list", "--out", str(tmp_path / "sweep")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "grid 'grid' must be a block" in error
    assert not (tmp_path / "sweep").exists()


def test_protocol_presets_cross_the_variants_and_boolean_fields():
    """protocol-reach: pools at K = 1, 10, 100, 1,000 for the protocol's trainable count, each plain, with full
    reach (a hop) and slipping; protocol-quality crosses the boolean --compensate-scale (a bool grid value is
    taken as one, not refused as a non-integer); the figures share their common points; all but protocol-table3
    compute the last block's answer row only, and all but it and protocol-reach over packed prompts."""
    reach = grids.points(PRESETS["protocol-reach"])
    assert len(reach) == 36 and len({p.name for p in reach}) == 36
    assert {p.spec.label for p in reach if p.settings["seed"] == 0} == {
        f"pool-{size}x12{suffix}" for size in (576, 640, 6400, 64000) for suffix in ("", "-hop8", "-slip-hop8")}
    expected = {576: 1, 640: 10, 6400: 100, 64000: 1000}
    counted = models.trainable_values(top_blocks=2)
    assert counted == 7_080_768
    for size, k in expected.items():
        assert size // math.gcd(counted, size) == k
    quality_points = grids.points(PRESETS["protocol-quality"])
    assert {p.settings["compensate_scale"] for p in quality_points} == {False, True}
    assert {p.spec.label for p in quality_points if p.spec} == {"otf-31x11-hop8", "otf-31x11-leap11-hop8",
                                                                "pool-4095x12-hop8", "pool-4095x12-balanced-hop8",
                                                                "otf-31x8"}
    assert len(quality_points) == 24 and sum(p.settings["perturb"] == "uniform" for p in quality_points) == 6
    rank = grids.points(PRESETS["protocol-rank"])               # the 4095-entry pool's points are quality's
    assert {p.name for p in rank} - {p.name for p in quality_points} == {
        p.name for p in rank if p.spec.label == "pool-4096x12-hop8"} and len(rank) == 6
    full = grids.points(PRESETS["protocol-full"])
    assert [p.label for p in full[:4]] == ["gaussian, zo-sgd, seed 0", "gaussian, zo-sgd, seed 1",
                                           "gaussian, zo-sgd, seed 2", "pezo-otf 31x8, zo-sgd, seed 0"]
    assert len(full) == 9 and {p.name for p in full if p.settings["seed"] == 0} == {   # named as before seeds 1, 2
        "gaussian-zo-sgd-seed0-bd3df995588b", "pezo-otf-31x8-zo-sgd-seed0-2e7e1fb92712",
        "pezo-otf-31x8-hop8-zo-sgd-seed0-7de7f74063d0"}
    assert {(p.settings["top_blocks"], p.settings["steps"], p.settings["lr"]) for p in full} == {(0, 1000, 1e-5)}
    gain = grids.points(PRESETS["protocol-gain"])
    assert {(p.settings["top_blocks"], p.settings["lr"]) for p in gain} == {(4, 3e-4), (2, 1e-3)} and len(gain) == 6
    long = grids.points(PRESETS["protocol-long"])
    assert len(long) == 9 and {(p.settings["steps"], p.settings["packed"], p.settings["top_blocks"]) for p in long} == {
        (20000, True, 2)}
    figures = {name: grids.points(PRESETS[f"protocol-{name}"]) for name in ("figure3-pool", "figure4")}
    assert {p.spec.label for p in figures["figure4"]} == {f"otf-31x{width}" for width in (5, 6, 8, 10, 12, 14, 16)}
    assert len(figures["figure3-pool"]) == 15 and {p.settings["seed"] for p in figures["figure3-pool"]} == {0, 1, 2}
    rngs = grids.points(PRESETS["protocol-figure3-rngs"])
    shared = {p.name for p in rngs} & {p.name for p in figures["figure4"]}
    assert shared == {p.name for p in figures["figure4"] if p.spec.label == "otf-31x8"}   # one folder: run once
    table3 = grids.points(PRESETS["protocol-table3"])               # begun with the whole last block: kept so
    assert not {p.name for p in table3} & shared and {p.settings["answer_row"] for p in table3} == {False}
    assert sorted(p.settings["seed"] for p in table3 if p.settings["perturb"] == "gaussian") == [0, 1, 2, 3, 4]
    assert {p.settings["answer_row"] for p in [*reach, *quality_points, *rngs]} == {True}
    assert {p.settings["packed"] for p in reach} == {False}                 # begun before packing: kept so
    assert {p.settings["packed"] for p in [*quality_points, *rngs, *figures["figure3-pool"]]} == {True}
    twos = grids.points(PRESETS["protocol-powers-of-two"])
    otf = [p for p in [*rngs, *figures["figure4"], *twos] if p.settings["perturb"] == "pezo-otf"]
    assert {p.settings["compensate_scale"] for p in otf} == {True}            # one step size along each line
    assert not any(p.settings.get("compensate_scale") for p in [*figures["figure3-pool"], *twos]
                   if p.settings["perturb"] == "pezo-pool")
    assert {p.name for p in rngs if p.spec.label == "otf-31x8"} < {p.name for p in quality_points}


@pytest.mark.parametrize("option, says", [(["--device", "cuda:7"], "device 'cuda:7' cannot be used here"),
                                          (["--model", "./no/such/model"], "model folder ./no/such/model"),
                                          (["--data", "no-such.csv"], "no-such.csv does not exist")])
def test_a_sweep_that_cannot_start_leaves_nothing(tiny, tmp_path, capsys, option, says):
    """What would stop every point (a device, a model, a data file) is refused before the folder is claimed: no
    grids/ and no empty points/ are left behind."""
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(small(tiny)))
    status = main(["sweep", "run", "--grid", str(grid), "--no-progress", "--out", str(tmp_path / "o"), *option])
    assert status == 2 and not (tmp_path / "o").exists()
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("edit, message", [
    (lambda r: {}, "point.json lacks 'name'"),
    (lambda r: {**r, "summary": {}}, "point.json summary lacks 'steps_done'"),
    (lambda r: {**r, "wall_seconds": "long"}, 'point.json: wall_seconds="long" is not a number'),
    (lambda r: {**r, "summary": {**r["summary"], "test_accuracy": None}}, "test_accuracy=null is not a number"),
    (lambda r: [r], "point.json holds a JSON list, not a sweep point's record"),
])
def test_an_edited_point_record_is_named_with_its_field(tiny, tmp_path, capsys, edit, message):
    grid = {**small(tiny), "grid": SMALL["grid"][1]}
    found = grids.points(grid)
    sweep_run.run(grid, found, tmp_path / "s", progress=False, log=lambda line: None)
    path = tmp_path / "s" / "points" / found[0].name / "point.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    capsys.readouterr()
    assert main(["sweep", "report", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("answers, message", [
    ({"step": 3, "labels": [0, 1]}, "test_answers.json lacks 'predictions'"),
    ({"step": 3, "labels": [0, 1], "predictions": [1]}, "must be lists of integers of one length"),
    ({"step": 3, "labels": [0, 1], "predictions": [1, "0"]}, "must be lists of integers of one length"),
])
def test_damaged_test_answers_are_named(tiny, tmp_path, capsys, answers, message):
    grid = {**small(tiny), "grid": SMALL["grid"][1]}
    found = grids.points(grid)
    sweep_run.run(grid, found, tmp_path / "s", progress=False, log=lambda line: None)
    path = tmp_path / "s" / "points" / found[0].name / "test_answers.json"
    assert len(json.loads(path.read_text())["predictions"]) == 12       # recorded by the point's run
    path.write_text(json.dumps(answers))
    capsys.readouterr()
    assert main(["sweep", "report", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_a_generator_yosys_cannot_synthesise_is_left_unpriced(monkeypatch, capsys):
    """The point still trains: its cost is None, with a warning naming the design and Yosys's last line."""
    from pezo.errors import ToolFailed
    from pezo.sweep import cost

    def fails(name, build):
        raise ToolFailed(f"yosys failed on {name} (exit 1):\nthrown Wasm exception")

    monkeypatch.setattr(cost, "estimate", fails)
    point, = grids.points({"grid": {"perturb": "clt-gaussian", "lanes": 4}})
    assert cost.hardware_cost(point) is None
    assert "warning: pezo_clt_4 is left unpriced: Yosys could not synthesise it here (thrown Wasm exception)" in \
        capsys.readouterr().err


def judged_line(field, losses, perturb="pezo-pool", strategy="pool", se=0.004, ranks=None):
    """Configurations along `field` with the given final losses ({value: loss}), one seed each, and the weakest
    matrix's rank ({value: rank} of 576, default full rank)."""
    found = []
    for value, loss in losses.items():
        row = {"seed": 0, "loss_window": 1, "final_loss": loss, "final_loss_se": se, "test_accuracy": 0.8,
               "test_accuracy_se": 0.01, "best_step": 5, "quality_matrix": "model.layers.0.mlp.down_proj.weight",
               "quality_matrix_rank": (ranks or {}).get(value, 576), "quality_matrix_full_rank": 576}
        settings = {"perturb": perturb, "method": "zo-sgd", "spec": {"strategy": strategy, field: value}}
        found.append(measures.Configuration(f"{field} {value}", f"{field} {value}", settings, [row]))
    return found


def test_the_papers_claims_are_judged_by_the_noise_rule():
    from pezo.sweep import claims
    plateau = judged_line("size", {255: 0.50, 1023: 0.45, 4095: 0.40, 16383: 0.401})
    assert claims.pool_plateau(plateau) == claims.Claim(
        claims.pool_plateau([]).claim, "agrees",
        "no pool of 16383 lowers the final loss beyond noise; smaller pools worse beyond noise: 255 and 1023")
    assert claims.pool_plateau(judged_line("size", {4095: 0.40, 16383: 0.38})).verdict == "disagrees"
    assert claims.pool_plateau(judged_line("size", {1023: 0.40, 16383: 0.38})).verdict == "cannot tell"
    peak = {3: 0.45, 7: 0.42, 15: 0.41, 31: 0.40, 63: 0.41}
    rngs = judged_line("generators", peak, "pezo-otf", "otf")
    found = claims.rng_peak(rngs)          # 15 and 63 are within noise of 31
    assert found.verdict == "agrees" and found.evidence.endswith("; 3 and 7 LFSRs are worse")
    assert claims.rng_peak(judged_line("generators", {**peak, 63: 0.38}, "pezo-otf", "otf")).verdict == "disagrees"
    flat = judged_line("generators", {15: 0.40, 31: 0.40}, "pezo-otf", "otf")
    assert claims.rng_peak(flat).verdict == "cannot tell"
    widths = judged_line("width", {4: 0.5, 8: 0.45, 10: 0.40, 14: 0.401, 16: 0.40}, "pezo-otf", "otf")
    assert claims.widths(widths).evidence.startswith("from 10 bits on no wider LFSR (14 and 16)")
    growing = judged_line("width", {8: 0.5, 14: 0.45, 16: 0.40}, "pezo-otf", "otf")
    assert claims.widths(growing).verdict == "disagrees"
    twos = judged_line("size", {2047: 0.40, 2048: 0.45, 4095: 0.40}, ranks={2048: 8})
    assert claims.powers_of_two(twos) == claims.Claim(
        claims.powers_of_two([]).claim, "agrees", "size 2048 raise the final loss beyond noise against 2^n - 1; "
        "weakest matrix size 2048: 8 of 576 (layers.0.mlp.down_proj) against full")
    for group, reach in zip(plateau, (85, 341, 455, 5461)):          # the protocol's K of these pools
        group.rows[0]["quality_reach"] = reach
        group.settings["steps"] = 5000
    assert claims.pool_plateau(plateau).evidence == (
        "no pool of 16383 lowers the final loss beyond noise; smaller pools worse beyond noise: 255 and 1023; K, the "
        "distinct perturbations each gives this model (runs of 5,000 steps), moves with it (255: 85, 1023: 341, "
        "4095: 455 and 16383: 5,461), so reach enters too")
    assert claims.judged(plateau)[0] == claims.pool_plateau(plateau)
    for group in plateau:
        group.settings["steps"] = 80                                      # no perturbation repeated: no note
    assert claims.pool_plateau(plateau).evidence.endswith("255 and 1023")
    for group in plateau:
        group.settings["steps"] = 5000
    plateau[0].rows[0]["quality_reach"] = None                            # a K unknown: no note
    assert claims.pool_plateau(plateau).evidence.endswith("255 and 1023")
    alone = judged_line("size", {4095: 0.40, 4096: 0.45}, ranks={4096: 8})    # no line, only the pair
    assert claims.powers_of_two(alone).evidence.startswith("size 4096 raise the final loss beyond noise")


def test_a_power_of_two_beside_its_neighbour_is_reported_without_a_line():
    """4096 against 4095 alone (the protocol's rank pair) still gets its section, difference and weakest matrices."""
    from pezo.sweep import guideline
    section = "\n".join(guideline._controls_section(judged_line("size", {4095: 0.40, 4096: 0.45}, ranks={4096: 8})))
    assert "- size 4096 against 4095, pezo-pool, zo-sgd: final loss 0.45 ± 0.004 against 0.4 ± 0.004 " \
           "(difference +0.05 ± 0.0057: higher)" in section
    assert section.endswith("weakest matrix 8 of 576 (layers.0.mlp.down_proj) against full.\n")


def test_a_line_section_shows_each_values_reach_and_where_the_gain_stops():
    line = judged_line("size", {255: 0.50, 1023: 0.45, 4095: 0.40, 16383: 0.401})
    for group, reach in zip(line, (85, 341, 455, 5461)):
        group.rows[0].update(quality_reach=reach, cost_lut_ff=None)
    family, = analysis.families(line, "size")
    section = guideline._family_section(family)
    assert "| 16383 | 5,461 | 0.401 ± 0.004 | 0.8 ± 0.01 | – | – |" in section
    assert "The gain stops at size 4095: 1023 is beaten beyond noise by a larger one, and nothing past 4095 lowers " \
           "the final loss further." in section


def test_a_naive_source_collapses_only_where_no_run_left_its_starting_weights():
    from pezo.sweep import claims

    def source(perturb, loss, best_step):
        row = {"seed": 0, "loss_window": 1, "final_loss": loss, "final_loss_se": 0.004, "test_accuracy": 0.78,
               "test_accuracy_se": 0.01, "best_step": best_step}
        return measures.Configuration(perturb, perturb, {"perturb": perturb, "spec": None}, [row])

    groups = [source("gaussian", 0.41, 500), source("rademacher", 0.41, 1000), source("uniform", 0.44, 500),
              source("uniform-raw", 0.6931, 0)]
    found = {item.claim.split()[1]: item for item in claims.naive_sources(groups)}
    assert found["Rademacher"].verdict == "disagrees" and found["raw"].verdict == "agrees"
    assert found["uniform"].evidence == "it trains, though its final loss is higher than the Gaussian's beyond noise"
    assert [item.verdict for item in claims.naive_sources(groups[1:])] == ["cannot tell"] * 3
    scaled = source("uniform", 0.41, 500)
    scaled.settings["compensate_scale"] = True
    found = {item.claim.split()[1]: item for item in claims.naive_sources([scaled, *groups])}
    assert found["uniform"].evidence == "it trains, though its final loss is higher than the Gaussian's beyond " \
        "noise; with its step size compensated (--compensate-scale) its final loss is not different beyond noise " \
        "from the Gaussian's"


def test_the_guideline_sets_a_smaller_reach_against_a_larger_one():
    def pool(hop_bits, slip, loss):
        spec = {"strategy": "pool", "size": 640, "bits": 12, "hop_bits": hop_bits, "slip": slip}
        found = quality.of_settings({"perturb": "pezo-pool", "spec": spec, "model": "smollm2", "top_blocks": 2})
        row = {"seed": 0, "loss_window": 1, "final_loss": loss, "final_loss_se": 0.004, "test_accuracy": 0.8,
               "test_accuracy_se": 0.01, "best_step": 5, **{f"quality_{key}": found[key] for key in found}}
        settings = {"perturb": "pezo-pool", "method": "zo-sgd", "steps": 5000, "spec": spec}
        return measures.Configuration(f"hop {hop_bits} slip {slip}", f"hop {hop_bits} slip {slip}", settings, [row])

    lines = guideline._reach_section([pool(0, 0, 0.45), pool(8, 0, 0.41), pool(0, 1, 0.409)])
    assert ("| hop 0 slip 0 | 10 | 5000 | hop 8 slip 0 | 640 | +0.04 ± 0.0057 | the larger K is better | - | "
            "cannot tell | difference +0 ± 0.014: not different beyond noise |") in lines       # one seed: no growth after K
    assert ("| hop 8 slip 0 | 640 | 5000 | hop 0 slip 1 | 6,400 | +0.001 ± 0.0057 | not different beyond noise | - "
            "| cannot tell | difference +0 ± 0.014: not different beyond noise |") in lines
    assert ("Reach rule over 5,000 steps (3 pairs whose smaller K is below the steps, seeds 0): K = 10 (0.002 of the "
            "steps) trained worse than the same generator with more distinct perturbations; K = 640 (0.13 of the "
            "steps) did not: the threshold lies between 10 and 640. Each K is judged against every twin with more, by "
            "the rule above (a difference beyond 2 SE); a K of the steps or more repeats no perturbation and is left "
            "out.") in lines
    mixed = guideline._reach_rule(analysis.reach_pairs([pool(0, 0, 0.40), pool(8, 0, 0.45), pool(0, 1, 0.40)]))
    assert mixed[0].startswith("Reach rule over 5,000 steps (3 pairs whose smaller K is below the steps, seeds 0): "
                               "no threshold: K = 640 (0.13 of the steps) trained worse than a twin with more, K = 10 "
                               "(0.002 of the steps) did not; K = 10 (0.002 of the steps) even trained better than a "
                               "twin with more.")
    short = [pool(0, 0, 0.45), pool(8, 0, 0.41), pool(0, 1, 0.30)]
    for group in short:                                   # 500 steps: K = 640 repeats nothing, so it is left out
        group.settings["steps"] = 500
    rule = guideline._reach_rule(analysis.reach_pairs(short))[0]
    assert "(2 pairs whose smaller K is below the steps" in rule and "every K measured against a twin with more " \
        "trained worse (K = 10 (0.02 of the steps)): the K from which more stops helping lies above 10" in rule
    twins = [pool(hop, 0, loss) for hop, loss in ((4, 0.45), (8, 0.40))]           # K = 640 both: not compared
    assert analysis.reach_pairs(twins) == [] and guideline._reach_rule(analysis.reach_pairs(twins)) == []
    beyond = guideline._reach_rule(analysis.reach_pairs([pool(0, 0, 0.45), pool(0, 1, 0.40), pool(8, 0, 0.45)]))
    assert "3 pairs" in beyond[0] and "every K measured against a twin with more trained worse (K = 10 (0.002 of " \
        "the steps) and 640 (0.13 of the steps)): the K from which more stops helping lies above 640" in beyond[0]
    assert guideline._reach_section([pool(0, 0, 0.45)]) == []
    split = guideline._reach_rule(analysis.reach_pairs([pool(0, 0, 0.42), pool(8, 0, 0.45), pool(0, 1, 0.38)]))
    assert split[0].endswith("the K from which more stops helping lies above 640; K = 10 (0.002 of the steps) "
                             "trained worse than one twin with more and better than another. Each K is judged against "
                             "every twin with more, by the rule above (a difference beyond 2 SE); a K of the steps or "
                             "more repeats no perturbation and is left out.") and "even" not in split[0]


def test_different_generators_of_equal_reach_are_set_against_each_other():
    """otf-31x8 (K 465) and the 4095-entry pool (K 455) on the top 2 blocks: within 10% of each other, so compared,
    the compensated otf too; a twin of the same generator, another budget or computation, K far apart, K beyond the
    steps or a pair another section compares (a zero-mean pool, a power of two, a twin in hop bits) are not."""
    def config(label, perturb, spec, loss, steps=5000, compensate=False, lr=1e-4, packed=False):
        found = quality.of_settings({"perturb": perturb, "spec": spec, "model": "smollm2", "top_blocks": 2})
        row = {"seed": 0, "loss_window": 1, "final_loss": loss, "final_loss_se": 0.004, "test_accuracy": 0.8,
               "test_accuracy_se": 0.01, "best_step": 5, **{f"quality_{key}": found[key] for key in found}}
        settings = {"perturb": perturb, "method": "zo-sgd", "steps": steps, "lr": lr, "compensate_scale": compensate,
                    "packed": packed, "spec": spec}
        return measures.Configuration(label, label, settings, [row])

    otf = {"strategy": "otf", "generators": 31, "width": 8}
    pool = {"strategy": "pool", "size": 4095, "bits": 12}
    groups = [config("otf", "pezo-otf", otf, 0.45), config("scaled otf", "pezo-otf", otf, 0.415, compensate=True),
              config("pool", "pezo-pool", pool, 0.43), config("pool lr", "pezo-pool", pool, 0.43, lr=1e-3),
              config("small pool", "pezo-pool", {"strategy": "pool", "size": 255, "bits": 12}, 0.43),
              config("short otf", "pezo-otf", otf, 0.45, steps=400), config("short pool", "pezo-pool", pool, 0.43,
                                                                             steps=400),
              config("packed pool", "pezo-pool", pool, 0.43, packed=True),
              config("balanced", "pezo-pool", {**pool, "balanced": 1}, 0.43),
              config("4096 hop", "pezo-pool", {**pool, "size": 4096, "hop_bits": 8}, 0.43),
              config("4095 hop", "pezo-pool", {**pool, "hop_bits": 8}, 0.43),
              config("4095 hop 4", "pezo-pool", {**pool, "hop_bits": 4}, 0.43)]
    assert [(one.label, other.label) for one, other in analysis.equal_reach_pairs(groups)] == [
        ("otf", "pool"), ("otf", "balanced"), ("scaled otf", "pool"), ("scaled otf", "balanced"),
        ("4096 hop", "4095 hop 4")]                       # K 4,096 and 4,095, differing in size and hop both
    lines = guideline._equal_reach_section(groups)
    assert "| otf | 465 | 1.32 | pool | 455 | 1 | difference +0.02 ± 0.0057: higher | difference +0 ± 0.014: not " \
        "different beyond noise |" in lines
    assert "| scaled otf | 465 | 1.32 | pool | 455 | 1 | difference -0.015 ± 0.0057: lower |" in " ".join(lines)
    assert guideline._equal_reach_section(groups[:2]) == []


def test_each_variant_is_set_against_its_plain_configuration():
    """leap (correlation), balanced (mean) and compensate_scale (step size), each against the configuration alike
    in all else; a configuration without its plain twin, or another generator, is not compared."""
    def config(label, loss, spec, compensate=False):
        row = {"seed": 0, "loss_window": 1, "final_loss": loss, "final_loss_se": 0.004, "test_accuracy": 0.8,
               "test_accuracy_se": 0.01, "best_step": 5}
        settings = {"perturb": "pezo-otf", "method": "zo-sgd", "compensate_scale": compensate, "spec": spec}
        return measures.Configuration(label, label, settings, [row])

    otf = {"strategy": "otf", "generators": 31, "width": 11, "hop_bits": 8}
    pool = {"strategy": "pool", "size": 4095, "bits": 12, "hop_bits": 8}
    groups = [config("otf", 0.45, otf), config("leap", 0.41, {**otf, "leap": 11}), config("pool", 0.43, pool),
              config("balanced", 0.429, {**pool, "balanced": 1}), config("scaled", 0.47, otf, compensate=True),
              config("lone leap", 0.40, {**otf, "width": 12, "leap": 12})]
    lines = guideline._variants_section(groups)
    rows = [line for line in lines if line.startswith("| a ") or line.startswith("| scale")]
    assert rows == [
        "| a leap-ahead array (values decorrelated) | leap | otf | difference -0.04 ± 0.0057: lower | "
        "difference +0 ± 0.014: not different beyond noise |",
        "| a zero-mean pool | balanced | pool | difference -0.001 ± 0.0057: not different beyond noise | "
        "difference +0 ± 0.014: not different beyond noise |",
        "| scale compensation (lr / E[u^2], eps / sqrt(E[u^2])) | scaled | otf | difference +0.02 ± 0.0057: higher | "
        "difference +0 ± 0.014: not different beyond noise |"]
    assert guideline._variants_section(groups[:1] + groups[2:3]) == []


def test_the_reach_section_tells_whether_a_smaller_reach_flattened_after_k(tmp_path):
    """Two seeds of 100 steps (loss window 20): a K = 10 pool whose loss stops falling after step 10 against its
    full-reach twin that keeps falling flattened; the same K whose loss keeps falling did not. Without noise the
    growth is exact: the twin falls 0.003 a step from the window after K (steps 11..30) to the final one (81..100).
    Against a falling Gaussian, the flat K = 10 pool flattened and the falling one did not; its twin, whose K exceeds
    the steps, gets no such statement."""
    import numpy as np

    def pool(hop_bits, curve, noise):
        spec = {"strategy": "pool", "size": 640, "bits": 12, "hop_bits": hop_bits, "slip": 0}
        found = quality.of_settings({"perturb": "pezo-pool", "spec": spec, "model": "smollm2", "top_blocks": 2})
        rows = []
        for seed in (0, 1):
            jitter = np.random.default_rng([seed, noise]).normal(0, 0.01, 100) if noise else np.zeros(100)
            losses = [curve(t) + jitter[t - 1] for t in range(1, 101)]
            rows.append({"seed": seed, "steps_done": 100, "loss_window": 20, "losses": losses,
                         "final_loss": float(np.mean(losses[-20:])), "final_loss_se": 0.002, "test_accuracy": 0.8,
                         "test_accuracy_se": 0.01, "best_step": 5, "stopped": "",
                         **{f"quality_{key}": found[key] for key in found}})
        settings = {"perturb": "pezo-pool", "method": "zo-sgd", "steps": 100, "spec": spec}
        return measures.Configuration(f"{curve.__name__} {noise}", curve.__name__, settings, rows)

    def falling(t):
        return 0.7 - 0.003 * t

    def flat(t):
        return 0.7 - 0.003 * min(t, 10)

    assert analysis.growth_after(pool(0, flat, 0), pool(8, falling, 0), 10)[0] == pytest.approx(0.21, abs=1e-9)
    assert analysis.growth_after(pool(0, flat, 0), pool(8, falling, 0), 60) is not None
    assert analysis.growth_after(pool(0, flat, 0), pool(8, falling, 0), 61) is None     # the windows would overlap
    full = pool(8, falling, 1)
    lines = guideline._reach_section([pool(0, flat, 2), full])
    assert any(line.startswith("| flat | 10 | 100 | falling | 640 |")
               and "| flattened after K | difference +0 ± " in line for line in lines)
    lines = guideline._reach_section([pool(0, falling, 3), full])
    assert any(line.startswith("| falling | 10 | 100 | falling | 640 |")
               and "| no flattening beyond noise | difference +0 ± " in line for line in lines)
    gaussian = measures.Configuration("gaussian", "gaussian", {**full.settings, "perturb": "gaussian", "spec": None},
                                      [{**row, "quality_reach": None} for row in pool(0, falling, 4).rows])
    lines = guideline._sources_section([gaussian, pool(0, flat, 2), pool(0, falling, 3), full])
    flattened = ("from the window after step K (10) to the final one, its loss minus the Gaussian's grew by "
                 "+0.209 ± 0.007: flattened after K.")
    assert any(line.startswith("- flat: ") and line.endswith(flattened) for line in lines), lines
    assert any(line.startswith("- falling: ") and "Gaussian's grew by " in line
               and line.endswith(": no flattening beyond noise.") for line in lines), lines
    assert sum("step K" in line for line in lines if line.startswith("- falling: ")) == 1  # not the twin: K 640
    drawn = plots._reach(analysis.reach_pairs([pool(0, flat, 2), full]))
    lines = drawn.axes[0].get_lines()                                     # two seeds, K and zero
    assert len(lines) == 4 and lines[0].get_label() == "minus falling (K 640)"
    assert list(lines[2].get_xdata()) == [10, 10]
    assert plots._save(drawn, tmp_path / "reach.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_trend_section_tells_whether_the_loss_was_still_falling():
    """Two seeds of 100 steps (loss window 20): a loss falling 0.003 a step falls 0.06 from the window before the
    last to the last, exactly without noise (its SE, from block means, counts the fall within each window: a
    cautious error); one that settled at step 60 is flat, and with noise flat within its SE; runs without room for
    two windows give nothing."""
    import numpy as np

    def config(curve, noise=0.0, steps=100):
        rows = []
        for seed in (0, 1):
            jitter = np.random.default_rng(seed).normal(0, noise, steps)
            losses = [curve(t) + jitter[t - 1] for t in range(1, steps + 1)]
            rows.append({"seed": seed, "steps_done": steps, "loss_window": 20, "losses": losses,
                         "final_loss": float(np.mean(losses[-20:])), "final_loss_se": 0.002, "test_accuracy": 0.8,
                         "test_accuracy_se": 0.01, "best_step": 5})
        settings = {"perturb": "gaussian", "method": "zo-sgd", "steps": steps, "spec": None}
        return measures.Configuration(curve.__name__, curve.__name__, settings, rows)

    def falling(t):
        return 0.7 - 0.003 * t

    def settled(t):
        return 0.7 - 0.003 * min(t, 60)

    value, fall_noise = analysis.final_trend(config(falling))
    assert value == pytest.approx(-0.06, abs=1e-9) and 0 < fall_noise < 0.06 / 2
    assert analysis.final_trend(config(settled)) == pytest.approx((0, 0), abs=1e-12)
    assert analysis.final_trend(config(falling, steps=39)) is None
    bare = config(falling)
    for row in bare.rows:                                 # a row without its trajectory (results.json's rows)
        del row["losses"]
    assert analysis.final_trend(bare) is None
    noisy = config(settled, noise=0.01)
    value, noise = analysis.final_trend(noisy)
    assert abs(value) < 2 * noise and 0.001 < noise < 0.01
    lines = guideline._trend_section([config(falling), noisy, config(falling, steps=39)])
    assert "1 of 2 configurations were still falling beyond noise." in lines
    assert f"| falling | 2 | 100 | 20 | -0.06 ± {fall_noise:.2g} | still falling |" in lines
    assert lines[-2].startswith("| settled | 2 | 100 | 20 |") and lines[-2].endswith("| flat within noise |")
    assert guideline._trend_section([config(falling, steps=39)]) == []


def test_each_configuration_is_drawn_against_the_gaussian_step_by_step(tmp_path):
    """A source whose loss is the Gaussian's plus 0.01 at one seed and 0.03 at the other is drawn 0.02 above it at
    every step (the mean over the seeds both ran); one that shares no seed with the Gaussian is not drawn; a
    diverged source is drawn, labelled clipped, without flattening the others."""
    def source(perturb, offsets, seeds=(0, 1)):
        rows = [{"seed": seed, "steps_done": 50, "loss_window": 10, "final_loss_se": 0.002,
                 "losses": [0.7 - 0.004 * t + offset for t in range(50)]} for seed, offset in zip(seeds, offsets)]
        return measures.Configuration(perturb, perturb, {"perturb": perturb, "steps": 50}, rows)

    gaussian, above = source("gaussian", (0, 0)), source("otf", (0.01, 0.03))
    groups = [gaussian, above, source("alone", (0.05,), seeds=(7,)), source("diverged", (0.5, 0.5)),
              *(source(name, offsets) for name, offsets in (("pool", (0.0, -0.002)), ("clt", (-0.01, 0.0)),
                                                            ("rademacher", (0.001, 0.001)), ("uniform", (0.03, 0.03))))]
    found = plots._against_gaussian(groups)
    assert [(group.label, seeds) for group, _, seeds, _ in found] == [
        ("otf", 2), ("diverged", 2), ("pool", 2), ("clt", 2), ("rademacher", 2), ("uniform", 2)]
    assert found[0][1] == pytest.approx([0.02] * 50)
    assert plots._against_gaussian(groups[1:]) == []
    drawn = plots._against(found)
    labels = [line.get_label() for line in drawn.axes[0].get_lines()]
    assert labels[:3] == ["otf (2 seeds)", "diverged (2 seeds) (clipped)", "pool (2 seeds)"]
    assert drawn.axes[0].get_ylim()[1] < 0.5
    assert plots._save(drawn, tmp_path / "against.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_variant_is_drawn_against_its_plain_twin_seed_by_seed(tmp_path):
    """A panel per variant pair: the compensated run's loss minus the plain one's, a line per seed both ran."""
    def config(label, offsets, compensate):
        rows = [{"seed": seed, "steps_done": 50, "loss_window": 10, "losses": [0.7 - 0.004 * t + offset
                                                                               for t in range(50)]}
                for seed, offset in zip((0, 1), offsets)]
        settings = {"perturb": "uniform", "method": "zo-sgd", "compensate_scale": compensate, "spec": None}
        return measures.Configuration(label, label, settings, rows)

    pairs = analysis.variant_pairs([config("plain", (0.0, 0.0), False), config("scaled", (-0.02, -0.03), True)])
    assert [(name, group.label, base.label) for name, group, base in pairs] == [("compensate_scale", "scaled", "plain")]
    drawn = plots._variants(pairs)
    panel, = drawn.axes
    seeds = panel.get_lines()[:2]
    assert [line.get_label() for line in seeds] == ["seed 0", "seed 1"] and panel.get_title().startswith(
        "scaled minus plain: scale compensation")
    assert list(seeds[0].get_ydata()) == pytest.approx([-0.02] * 50) and list(seeds[1].get_ydata()) == \
        pytest.approx([-0.03] * 50)
    assert plots._save(drawn, tmp_path / "variants.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_many_configurations_are_drawn_against_the_gaussian_a_panel_each():
    """From PANELS_FROM configurations on: a panel per configuration, a line per seed both ran (its loss minus the
    Gaussian's of that seed, step by step) and a line at zero."""
    def source(perturb, offsets):
        rows = [{"seed": seed, "steps_done": 50, "loss_window": 10, "final_loss_se": 0.002,
                 "losses": [0.7 - 0.004 * t + offset for t in range(50)]} for seed, offset in enumerate(offsets)]
        return measures.Configuration(perturb, perturb, {"perturb": perturb, "steps": 50}, rows)

    groups = [source("gaussian", (0, 0)), *(source(f"s{index}", (0.001 * index, 0.002 * index))
                                            for index in range(plots.PANELS_FROM))]
    figure = plots._against(plots._against_gaussian(groups))
    shown = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title() for axes in shown] == [f"s{index}" for index in range(plots.PANELS_FROM)]
    last = shown[-1].get_lines()
    index = plots.PANELS_FROM - 1
    assert [line.get_label() for line in last[:2]] == ["seed 0", "seed 1"]
    assert list(last[1].get_ydata()) == pytest.approx([0.002 * index] * 50) and list(last[2].get_ydata()) == [0, 0]


def test_each_configuration_is_set_against_the_gaussian_of_its_budget(tmp_path):
    """Runs of 5,000 and 20,000 steps in one report: each source against the Gaussian of its own steps, whatever
    its computation (the answer row, packing), a Gaussian against the first; one without a Gaussian of its budget
    is named, not compared; the Pareto front compares a budget's configurations only."""
    def config(perturb, steps, loss, lut_ff=None, **run):
        rows = [{"seed": seed, "steps_done": steps, "loss_window": 10, "final_loss": loss + seed * 0.01,
                 "final_loss_se": 0.001, "test_accuracy": 0.8, "test_accuracy_se": 0.01, "best_step": 5,
                 "stopped": "", "losses": [loss + seed * 0.01] * 50, "cost_lut_ff": lut_ff,
                 "cost_bram36": 0 if lut_ff else None, "quality_reach": None} for seed in (0, 1)]
        settings = {"perturb": perturb, "method": "zo-sgd", "steps": steps, "lr": 3e-4, "spec": None, **run}
        return measures.Configuration(f"{perturb} {steps} {run}", f"{perturb} {steps}", settings, rows)

    short, long = config("gaussian", 5000, 0.40), config("gaussian", 20000, 0.30)
    otf_short = config("pezo-otf", 5000, 0.41, lut_ff=820, packed=True)
    otf_long = config("pezo-otf", 20000, 0.30, lut_ff=900)
    lone = config("pezo-otf", 10000, 0.35, lut_ff=800)
    groups = [short, long, otf_short, otf_long, lone]
    assert analysis.reference(groups, otf_short) is short and analysis.reference(groups, otf_long) is long
    assert analysis.reference(groups, lone) is None and analysis.reference(groups, long) is short
    for run, alike in (({"answer_row": True}, True), ({"compensate_scale": True}, True), ({"top_blocks": 4}, False),
                       ({"lr": 1e-3}, False), ({"forward": "bf16"}, False)):
        assert (analysis.reference(groups, config("uniform", 5000, 0.42, **run)) is short) == alike, run
    lines = guideline._sources_section(groups)
    assert lines[0] == "## Against MeZO's Gaussian perturbations (gaussian 5000; gaussian 20000)"
    assert not any(line.startswith("- gaussian 5000") for line in lines)      # never set against itself
    assert any(line.startswith("- gaussian 20000 against gaussian 5000: final loss 0.305") for line in lines)
    assert any(line.startswith("- pezo-otf 5000 against gaussian 5000: final loss 0.415 ± 0.005 (difference +0.01 ± ")
               and "higher" in line for line in lines)
    assert any(line.startswith("- pezo-otf 20000 against gaussian 20000: final loss 0.305 ± 0.005 (difference +0 ± ")
               for line in lines)
    assert "- No Gaussian of their budget to set against: pezo-otf 10000." in lines
    assert analysis.front([otf_short, otf_long, lone]) == [otf_short, otf_long, lone]   # no cross-budget dominance
    drawn = plots._against_gaussian(groups)
    assert [(group, gaussian) for group, _, _, gaussian in drawn] == [(otf_short, short), (otf_long, long)]
    assert drawn[0][1] == pytest.approx([0.01] * 50) and drawn[1][1] == pytest.approx([0.0] * 50)


def test_a_line_names_the_generator_seed_apart_from_the_runs():
    found = grids.points({"grid": [{"perturb": "pezo-pool", "size": [255, 1023], "bits": 12, "seed": [0, 1]}]})
    groups = measures.configurations([({"settings": p.settings}, {}) for p in found])
    [line] = analysis.families(groups, "size")
    assert line.label == "pezo-pool (bits 12, lanes 1, generator seed 1), zo-sgd"
    assert [value for value, _ in line.line] == [255, 1023]
