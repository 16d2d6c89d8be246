"""`pezo train` on tiny offline models: outputs, bit-identical resume, non-finite stop, masked LMs and clear
errors."""
import json

import pytest
import torch
from safetensors.torch import load_file

import train_tiny
from pezo.cli import main
from pezo.train import models, tasks


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {"causal": train_tiny.causal_folder(folder / "causal"), "masked": train_tiny.masked_folder(folder / "masked"),
            "data": train_tiny.sentiment_csv(folder / "reviews.csv")}


def train(tiny, out, *options, model="causal"):
    return main(["train", "--model", tiny[model], "--data", tiny["data"], "--k", "4", "--test-size", "20",
                 "--batch-size", "4", "--eval-every", "2", "--lr", "0.05", "--eps", "0.01", "--no-progress",
                 "--out", str(out), *options])


def records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def without_times(rows):
    """Step, evaluation and test records without their timings."""
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows
            if row.get("event") not in ("config", "resume")]


@pytest.mark.parametrize("perturb", ["gaussian", "pezo-otf", "pezo-pool", "clt-gaussian"])
def test_resume_is_bit_identical(tiny, tmp_path, perturb):
    assert train(tiny, tmp_path / "whole", "--perturb", perturb, "--steps", "6", "--seed", "3") == 0
    assert train(tiny, tmp_path / "split", "--perturb", perturb, "--steps", "2", "--seed", "3") == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "6", "--no-progress"]) == 0
    whole, split = (load_file(tmp_path / run / "checkpoint" / "trainable.safetensors") for run in ("whole", "split"))
    assert whole.keys() == split.keys() and all(torch.equal(whole[key], split[key]) for key in whole)
    assert without_times(records(tmp_path / "whole")) == without_times(records(tmp_path / "split"))
    state = json.loads((tmp_path / "split" / "checkpoint" / "state.json").read_text())
    assert state["progress"]["step"] == 6 and state["seed"] == 3


def test_a_run_stopped_between_evaluations_resumes_from_its_timed_checkpoint(tiny, tmp_path, monkeypatch):
    """Evaluations only at steps 0 and 6; with CHECKPOINT_SECONDS passed after every step, a run interrupted as it
    begins step 4 has checkpointed step 3, and resumed from there it ends bit-identical to a run never stopped."""
    from pezo.train import loop
    assert train(tiny, tmp_path / "whole", "--steps", "6", "--eval-every", "100") == 0
    monkeypatch.setattr(loop, "CHECKPOINT_SECONDS", 0)
    step = loop.Run.step

    def interrupted_at_step_4(run):
        if run.progress.step == 3:
            raise KeyboardInterrupt
        return step(run)
    monkeypatch.setattr(loop.Run, "step", interrupted_at_step_4)
    assert train(tiny, tmp_path / "split", "--steps", "6", "--eval-every", "100") == 130
    state = json.loads((tmp_path / "split" / "checkpoint" / "state.json").read_text())
    assert state["progress"]["step"] == 3
    monkeypatch.setattr(loop.Run, "step", step)
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--no-progress"]) == 0
    whole, split = (load_file(tmp_path / run / "checkpoint" / "trainable.safetensors") for run in ("whole", "split"))
    assert whole.keys() == split.keys() and all(torch.equal(whole[key], split[key]) for key in whole)
    assert without_times(records(tmp_path / "whole")) == without_times(records(tmp_path / "split"))


def test_outputs_record_seeds_and_spec(tiny, tmp_path):
    out = tmp_path / "run"
    assert train(tiny, out, "--perturb", "pezo-otf", "--width", "14", "--steps", "2", "--seed", "9") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 9 and summary["spec"]["width"] == 14 and summary["perturb"] == "pezo-otf"
    assert 0 <= summary["test_accuracy"] <= 1 and summary["steps_done"] == 2
    steps = [r for r in records(out) if "loss_plus" in r]
    assert [r["step"] for r in steps] == [1, 2]
    assert set(steps[0]) == {"step", "loss", "loss_plus", "loss_minus", "projected_grad", "lr", "seconds"}
    assert records(out)[0]["seed"] == 9 and (out / "plot.png").stat().st_size > 0
    assert json.loads((out / "config.json").read_text())["seed"] == 9
    answers = json.loads((out / "test_answers.json").read_text())     # each test example's label and answer
    right = [label == answer for label, answer in zip(answers["labels"], answers["predictions"])]
    assert answers["step"] == summary["best_step"] and len(right) == 20
    assert summary["test_accuracy"] == sum(right) / 20 and set(answers["predictions"]) <= {0, 1}
    start = json.loads((out / "start_answers.json").read_text())      # the starting weights', on the same examples
    zero_shot, = [r for r in records(out) if r.get("event") == "zero-shot"]
    assert start["step"] == zero_shot["step"] == 0 and start["labels"] == answers["labels"]
    assert zero_shot["test_accuracy"] == sum(a == b for a, b in zip(start["labels"], start["predictions"])) / 20


def test_manifest_selects_the_builds_generator(tiny, tmp_path):
    from pezo.hw.export import export
    from pezo.golden import PoolSpec
    build = export(PoolSpec(size=63, bits=6, lanes=3), tmp_path / "build")
    assert train(tiny, tmp_path / "run", "--manifest", str(build), "--steps", "1") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["perturb"] == "pezo-pool" and summary["spec"] == PoolSpec(size=63, bits=6, lanes=3).to_dict()


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(tiny, out, "--eps", "1e38", "--steps", "4") == 1
    assert "non-finite loss" in capsys.readouterr().err
    assert json.loads((out / "checkpoint" / "state.json").read_text())["progress"]["step"] == 0
    assert records(out)[-2]["event"] == "stopped"
    assert json.loads((out / "summary.json").read_text())["stopped"].startswith("stopped at step 1")


def test_masked_lm(tiny, tmp_path):
    assert train(tiny, tmp_path / "run", "--steps", "2", "--perturb", "pezo-pool", model="masked") == 0


def test_left_padding_scores_equal_unpadded(tiny):
    classifier = tasks.Classifier(models.load(tiny["causal"]), tasks.get("rt"))
    texts = ["the film was great", "a dull plot and the acting was really quite flat"]
    together = classifier.scores(texts)
    alone = torch.cat([classifier.scores([text]) for text in texts])
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("options, message", [
    (["--task", "sst9"], "task 'sst9' is unknown: allowed rt"),
    (["--k", "40"], "k=40 is out of range for this data: the smallest class has 30 examples, allowed k 1..15"),
    (["--perturb", "gaussian", "--width", "14"], "--perturb gaussian takes no generator options"),
    (["--perturb", "pezo-otf", "--preset", "pool-4095x12"], "needs a spec of strategy otf"),
    (["--width", "40", "--perturb", "pezo-otf"], "width=40 is out of range: allowed 2..24"),
    (["--steps", "-1"], "steps=-1 is out of range"),
    (["--device", "tpu9"], "device 'tpu9' cannot be used here"),
    (["--template", "no placeholder", "--label-words", " a", " b"], "allowed a template with a {text} placeholder"),
])
def test_bad_input_exits_2_and_writes_nothing(tiny, tmp_path, capsys, options, message):
    assert train(tiny, tmp_path / "run", *options) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_explicit_cpu_device_changes_nothing(tiny, tmp_path):
    """--device cpu is the default: the same metrics bit for bit; a resume may name a device."""
    assert train(tiny, tmp_path / "default", "--perturb", "pezo-otf", "--steps", "3", "--seed", "2") == 0
    assert train(tiny, tmp_path / "cpu", "--perturb", "pezo-otf", "--steps", "3", "--seed", "2", "--device", "cpu") == 0
    losses = [[record["loss"] for record in map(json.loads, (tmp_path / name / "metrics.jsonl").read_text().splitlines())
               if "loss" in record] for name in ("default", "cpu")]
    assert losses[0] == losses[1] and len(losses[0]) == 3
    assert main(["train", "--out", str(tmp_path / "cpu"), "--resume", "--steps", "4", "--device", "cpu",
                 "--no-progress"]) == 0


def test_a_bf16_autocast_forward(tiny, tmp_path):
    """--forward bf16: the run trains and records it; its scores are close to, and not the same as, fp32's."""
    assert train(tiny, tmp_path / "run", "--steps", "2", "--forward", "bf16") == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["forward"] == "bf16"
    lm = models.load(tiny["causal"])
    texts = ["the film was great", "a dull plot"]
    fp32, bf16 = (tasks.Classifier(lm, tasks.get("rt"), forward=name).scores(texts) for name in ("fp32", "bf16"))
    assert fp32.dtype == bf16.dtype == torch.float32
    assert torch.allclose(fp32, bf16, atol=0.05) and not torch.equal(fp32, bf16)
    with pytest.raises(ValueError, match="forward 'fp16' is unknown: allowed fp32, bf16"):
        tasks.Classifier(lm, tasks.get("rt"), forward="fp16")


def test_unknown_model_and_perturbation(tmp_path, capsys):
    assert main(["train", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "run"), "--k", "2",
                 "--test-size", "2"]) == 2
    assert "nothing does not exist" in capsys.readouterr().err and not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as stop:
        main(["train", "--perturb", "normal", "--out", str(tmp_path / "run")])
    assert stop.value.code == 2 and "invalid choice: 'normal'" in capsys.readouterr().err


def test_refuses_a_file_as_folder_and_a_bad_label(tiny, tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(SystemExit) as stop:
        train(tiny, tmp_path / "file", "--steps", "1")
    assert stop.value.code == 2 and "file is a file: give a folder" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"text": "a film", "label": null}\n')
    assert main(["train", "--model", tiny["causal"], "--data", str(tmp_path / "bad.jsonl"), "--out",
                 str(tmp_path / "run")]) == 2
    assert "row 1: label None is not an integer: allowed 0..1" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine" and not (tmp_path / "run").exists()


def test_refuses_a_used_folder(tiny, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    assert train(tiny, tmp_path / "run", "--steps", "1") == 2
    assert "holds what pezo did not write (keep.txt)" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("method, options", [("zo-adam", ["--peft", "lora"]), ("hizoo", ["--alpha", "0.1"]),
                                             ("dizo", ["--interval", "2", "--iterations", "2"]),
                                             ("zo-sgd-mmt", ["--peft", "prefix"])])
def test_methods_and_peft_resume_bit_identically(tiny, tmp_path, method, options):
    common = ["--method", method, "--perturb", "pezo-pool", "--seed", "5", *options]
    assert train(tiny, tmp_path / "whole", *common, "--steps", "6") == 0
    assert train(tiny, tmp_path / "split", *common, "--steps", "2") == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "6", "--no-progress"]) == 0
    whole, split = (load_file(tmp_path / run / "checkpoint" / "trainable.safetensors") for run in ("whole", "split"))
    assert whole.keys() == split.keys() and all(torch.equal(whole[key], split[key]) for key in whole)
    assert without_times(records(tmp_path / "whole")) == without_times(records(tmp_path / "split"))
    assert json.loads((tmp_path / "whole" / "summary.json").read_text())["method"] == method


@pytest.mark.parametrize("schedule, factors", [("linear", [1, 0.75, 0.5, 0.25]),
                                               ("cosine", [1, 0.5 + 0.5 ** 1.5, 0.5, 0.5 - 0.5 ** 1.5])])
def test_lr_schedules(tiny, tmp_path, schedule, factors):
    assert train(tiny, tmp_path / "run", "--schedule", schedule, "--steps", "4") == 0
    lrs = [r["lr"] for r in records(tmp_path / "run") if "event" not in r]
    assert lrs == pytest.approx([0.05 * factor for factor in factors], rel=1e-12)


@pytest.mark.parametrize("kind, marker", [("lora", "lora_"), ("prefix", "prompt_encoder")])
def test_peft_checkpoints_hold_only_the_adapter(tiny, tmp_path, kind, marker):
    assert train(tiny, tmp_path / "run", "--peft", kind, "--steps", "2") == 0
    saved = load_file(tmp_path / "run" / "checkpoint" / "trainable.safetensors")
    assert saved and all(marker in name for name in saved)
    base = models.load(tiny["causal"]).model
    assert sum(t.numel() for t in saved.values()) < sum(p.numel() for p in base.parameters()) / 4


def test_lora_on_a_masked_lm(tiny, tmp_path):
    assert train(tiny, tmp_path / "run", "--peft", "lora", "--method", "zo-sgd-sign", "--steps", "2",
                 model="masked") == 0


@pytest.mark.parametrize("options, message", [
    (["--momentum", "0.9"], "--momentum does not apply to method zo-sgd: allowed --queries, --estimator"),
    (["--method", "zo-adam", "--amsgrad", "maybe"], "zo-adam amsgrad='maybe' is not bool"),
    (["--method", "zo-sgd", "--queries", "0"], "zo-sgd queries=0 is out of range"),
    (["--peft", "lora", "--lora-r", "0"], "lora_r=0 is out of range: allowed 1..4096"),
])
def test_bad_method_options_exit_2_and_write_nothing(tiny, tmp_path, capsys, options, message):
    assert train(tiny, tmp_path / "run", *options) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_prefix_tuning_refuses_a_masked_lm(tiny, tmp_path, capsys):
    assert train(tiny, tmp_path / "run", "--peft", "prefix", model="masked") == 2
    assert "is a masked LM: use --peft lora" in capsys.readouterr().err


def test_resume_writes_into_the_folder_given(tiny, tmp_path):
    import shutil
    assert train(tiny, tmp_path / "a", "--steps", "2") == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    before = (tmp_path / "a" / "metrics.jsonl").read_text()
    assert main(["train", "--out", str(tmp_path / "b"), "--resume", "--steps", "4", "--no-progress"]) == 0
    assert (tmp_path / "a" / "metrics.jsonl").read_text() == before
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["steps_done"] == 4


def test_resume_refuses_changed_settings(tiny, tmp_path, capsys):
    assert train(tiny, tmp_path / "run", "--schedule", "linear", "--steps", "2") == 0
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "8", "--no-progress"]) == 2
    assert "decays over its 2 steps" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--lr", "1", "--perturb", "gaussian",
                 "--no-progress"]) == 2
    assert "only --steps and --device may be given, not --lr, --perturb" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["trainable.safetensors", "optimizer.pt", "state.json"])
def test_a_damaged_checkpoint_is_named(tiny, tmp_path, capsys, name):
    assert train(tiny, tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    path = tmp_path / "run" / "checkpoint" / name
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and len(err.splitlines()) == 1


def test_sigterm_keeps_the_last_checkpoint_and_leaves_no_staging(tiny, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "pezo.cli", "train", "--model", tiny["causal"], "--data",
                                tiny["data"], "--k", "4", "--test-size", "20", "--batch-size", "4", "--eval-every",
                                "1", "--steps", "100000", "--no-progress", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)                   # now well inside the loop of steps and checkpoints
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and err.strip().splitlines() == [
        "pezo: terminated (SIGTERM)"]
    assert not list(out.glob(".pezo-staging-*"))
    done = json.loads((out / "checkpoint" / "state.json").read_text())["progress"]["step"]
    assert main(["train", "--out", str(out), "--resume", "--steps", str(done + 1), "--no-progress"]) == 0


def test_an_unwritable_run_folder(tiny, capsys):
    assert train(tiny, "/sys/pezo-unwritable/run", "--steps", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: /sys/pezo-unwritable") and len(err.splitlines()) == 1


def test_an_unreachable_hub_gives_one_line(tmp_path):
    """Not one warning per retry of the hub (an endpoint that refuses connections stands in for no network)."""
    import os
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "pezo.cli", "train", "--model", "nosuch/model", "--out",
                           str(tmp_path / "run")], capture_output=True, text=True,
                          env={**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"})
    assert done.returncode == 2 and not (tmp_path / "run").exists()
    assert done.stderr.startswith("error: model 'nosuch/model' was not found") and len(done.stderr.splitlines()) == 1


def edited_json(path, edit):
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


@pytest.mark.parametrize("name, edit, message", [
    ("config.json", lambda r: {**r, "k": "4"}, 'config.json: k="4" is not an integer'),
    ("config.json", lambda r: {**r, "method_args": "x"}, 'config.json: method_args="x" is not an object'),
    ("config.json", lambda r: {**r, "label_words": 5}, "config.json: label_words=5 is not a list or null"),
    ("config.json", lambda r: {**r, "perturb": ["gaussian"]}, 'config.json: perturb=["gaussian"] is not text'),
    ("config.json", lambda r: [1, 2], "config.json holds a JSON list, not a run's config"),
])
def test_edited_run_files_are_named_with_their_field(tiny, tmp_path, capsys, name, edit, message):
    assert train(tiny, tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    edited_json(tmp_path / "run" / name, edit)
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("lines, message", [
    (lambda lines: [], "does not begin with the run's config record"),
    (lambda lines: lines[1:], "does not begin with the run's config record"),
    (lambda lines: lines[:2] + ["[1, 2]"] + lines[2:], "line 3 holds [1, 2], not a JSON object"),
    (lambda lines: lines[:1] + ['{"step": 1, "loss": "low", "seconds": 1}'] + lines[1:], 'loss="low" is not a number'),
])
def test_edited_metrics_are_refused_before_training(tiny, tmp_path, capsys, lines, message):
    assert train(tiny, tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    path = tmp_path / "run" / "metrics.jsonl"
    path.write_text("".join(line + "\n" for line in lines(path.read_text().splitlines())))
    before = (tmp_path / "run" / "plot.png").read_bytes()
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "metrics.jsonl" in err and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "run" / "plot.png").read_bytes() == before


def test_an_emptied_optimizer_state_is_named(tiny, tmp_path, capsys):
    assert train(tiny, tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    path = tmp_path / "run" / "checkpoint" / "optimizer.pt"
    path.write_bytes(b"")
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} cannot be read") and len(err.splitlines()) == 1, err


def test_a_run_records_every_method_argument_and_an_older_record_warns(tiny, tmp_path, capsys):
    assert train(tiny, tmp_path / "run", "--steps", "2", "--method", "dizo") == 0
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["method_args"]
    assert recorded["interval"] == 50 and recorded["projection"] == "gamma" and len(recorded) == 9
    capsys.readouterr()
    edited_json(tmp_path / "run" / "config.json", lambda r: {**r, "method_args": {"interval": 50}})
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "4", "--no-progress"]) == 0
    assert "does not record dizo's estimator, gamma_eps" in capsys.readouterr().err


def test_the_help_names_each_methods_own_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(sparse-mezo; default 0.8)" in text and "(zo-sgd-sparse; default 0.2)" in text
