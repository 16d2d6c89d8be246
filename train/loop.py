"""The training loop: few-shot ZO fine-tuning with evaluation, checkpoints, resume, metrics and a plot.

A run writes into its own folder:

- `config.json`: every setting, seeds included;
- `metrics.jsonl`: one record per step (losses, projected gradient, lr, seconds) and per evaluation;
- `checkpoint/`: the weights and state after the latest evaluation (step, stream position or seed-RNG state, torch
  RNG state, best dev accuracy); `--resume` continues from it bit-identically;
- `best/`: the weights with the best dev accuracy so far (the dev-selected checkpoint);
- `summary.json` and `plot.png` at the end: the test accuracy of the dev-selected weights.

Batches are a function of (seed, step): epoch e visits the training set in the order of a permutation seeded with
(seed, e), so resuming needs no sampler state.
"""
import base64
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from . import data, models, perturbations, tasks
from .zo import NonFiniteLoss, ZOSGD

WEIGHTS = "model.safetensors"
STATE = "state.json"


@dataclasses.dataclass
class Config:
    """Every setting of a run. template/label_words: a custom task instead of `task`; spec: the generator spec
    (dict) of a streamed source, None for its default."""
    out: str
    model: str = models.DEFAULT_MODEL
    task: str = "rt"
    template: str | None = None
    label_words: list | None = None
    data: str | None = None
    k: int = 16
    test_size: int = 1000
    perturb: str = "gaussian"
    spec: dict | None = None
    steps: int = 1000
    lr: float = 1e-6
    eps: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 16
    eval_every: int = 100
    seed: int = 0

    def check(self):
        for name in ("k", "test_size", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} is out of range: allowed 1 or more")
        if self.steps < 0:
            raise ValueError(f"steps={self.steps} is out of range: allowed 0 or more")
        if not 0 <= self.seed < 2 ** 32:
            raise ValueError(f"seed={self.seed} is out of range: allowed 0..{2 ** 32 - 1}")
        if not (self.lr >= 0 and self.eps > 0 and self.weight_decay >= 0):
            raise ValueError(f"lr={self.lr}, eps={self.eps}, weight_decay={self.weight_decay}: allowed lr >= 0, "
                             f"eps > 0, weight_decay >= 0")


@dataclasses.dataclass
class Progress:
    step: int = 0
    best_dev: float = -1.0
    best_step: int = 0


def batch_indices(step, batch_size, examples, seed):
    """Training-example indices of one step's batch."""
    first = step * batch_size
    epochs = range(first // examples, (first + batch_size - 1) // examples + 1)
    order = np.concatenate([np.random.default_rng([seed, epoch]).permutation(examples) for epoch in epochs])
    offset = first - epochs[0] * examples
    return order[offset:offset + batch_size].tolist()


class Run:
    """One training run: the model, data, optimizer and output folder of a Config."""

    def __init__(self, config, progress_bar=True):
        config.check()
        self.config, self.out, self.progress_bar = config, Path(config.out), progress_bar
        task = tasks.custom(config.template, config.label_words) if config.template else tasks.get(config.task)
        source = perturbations.make(config.perturb, seed=config.seed, spec=_spec(config.spec))
        examples = data.read_file(config.data, len(task.label_words)) if config.data else data.rotten_tomatoes()
        self.split = data.few_shot(examples, config.k, config.seed, len(task.label_words), config.test_size)
        self.lm = models.load(config.model)
        self.classifier = tasks.Classifier(self.lm, task)
        self.zo = ZOSGD(self.lm.model, source, lr=config.lr, eps=config.eps, weight_decay=config.weight_decay)
        self.progress = Progress()

    def start(self):
        """A fresh run: refuses a non-empty folder; writes the config and evaluates the starting weights."""
        if self.out.exists() and any(self.out.iterdir()):
            raise FileExistsError(f"{self.out} is not empty: give another --out or --resume")
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(self.record(), indent=2) + "\n")
        self._log({"event": "config", **self.record()}, mode="w")
        self._evaluate()

    def resume(self):
        """Continue from `checkpoint/`: weights, progress and perturbation state; later metrics are dropped."""
        state = json.loads((self.out / "checkpoint" / STATE).read_text())
        _load_weights(self.lm.model, self.out / "checkpoint" / WEIGHTS)
        self.zo.perturbation.load_state_dict(state["perturbation"])
        torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(state["torch_rng"])), dtype=torch.uint8))
        self.progress = Progress(**state["progress"])
        lines = (self.out / "metrics.jsonl").read_text().splitlines()
        kept = [line for line in lines if json.loads(line).get("step", 0) <= self.progress.step
                and json.loads(line).get("event") not in ("test", "stopped")]
        (self.out / "metrics.jsonl").write_text("".join(line + "\n" for line in kept))
        self._log({"event": "resume", "step": self.progress.step, "steps": self.config.steps})

    def record(self):
        """The config plus what the perturbation source adds (its seed or spec)."""
        return {**dataclasses.asdict(self.config), **self.zo.perturbation.describe()}

    def train(self):
        """Steps up to config.steps; returns the summary (also written to summary.json, with plot.png)."""
        from tqdm import tqdm
        config, begin, stopped = self.config, time.perf_counter(), None
        bar = tqdm(total=config.steps, initial=self.progress.step, disable=not self.progress_bar, desc="ZO steps")
        while self.progress.step < config.steps and stopped is None:
            try:
                self._step()
            except NonFiniteLoss as error:
                stopped = (f"stopped at step {self.progress.step + 1}: {error}; the last good checkpoint "
                           f"(step {self._checkpoint_step()}) is kept in {self.out / 'checkpoint'}")
                self._log({"event": "stopped", "step": self.progress.step + 1, "reason": str(error)})
                break
            bar.update(1)
            bar.set_postfix(loss=f"{self.zo.last.loss_plus:.4f}", dev=f"{self.progress.best_dev:.3f}")
            if self.progress.step % config.eval_every == 0 or self.progress.step == config.steps:
                self._evaluate()
        bar.close()
        return self._finish(time.perf_counter() - begin, stopped)

    def _step(self):
        config, step = self.config, self.progress.step
        indices = batch_indices(step, config.batch_size, len(self.split.train), config.seed)
        batch = self.split.train.take(indices)
        begin = time.perf_counter()
        self.zo.step(self.classifier.loss, (batch.texts, batch.labels))
        self.progress.step = step + 1
        self._log({"step": step + 1, "loss_plus": self.zo.last.loss_plus, "loss_minus": self.zo.last.loss_minus,
                   "projected_grad": self.zo.last.projected_grad, "lr": config.lr,
                   "seconds": time.perf_counter() - begin})

    def _evaluate(self):
        """Dev accuracy now; keeps the weights if they are the best so far, then checkpoints."""
        dev = self.classifier.accuracy(self.split.dev.texts, self.split.dev.labels)
        self._log({"event": "eval", "step": self.progress.step, "dev_accuracy": dev})
        if dev > self.progress.best_dev:
            self.progress.best_dev, self.progress.best_step = dev, self.progress.step
            self._save("best")
        self._save("checkpoint")

    def _save(self, name):
        """Write weights and state into `name/` atomically (a staging folder renamed into place)."""
        from safetensors.torch import save_model
        staging = Path(tempfile.mkdtemp(dir=self.out, prefix=f".{name}-"))
        save_model(self.lm.model, str(staging / WEIGHTS))
        state = {"progress": dataclasses.asdict(self.progress), "seed": self.config.seed,
                 "perturbation": self.zo.perturbation.state_dict(),
                 "torch_rng": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()}
        (staging / STATE).write_text(json.dumps(state) + "\n")
        old = self.out / f".{name}-old"
        if (self.out / name).exists():
            (self.out / name).rename(old)
        staging.rename(self.out / name)
        shutil.rmtree(old, ignore_errors=True)

    def _checkpoint_step(self):
        return json.loads((self.out / "checkpoint" / STATE).read_text())["progress"]["step"]

    def _finish(self, seconds, stopped):
        """Test accuracy of the dev-selected weights; summary.json and plot.png."""
        _load_weights(self.lm.model, self.out / "best" / WEIGHTS)
        test = self.classifier.accuracy(self.split.test.texts, self.split.test.labels)
        self._log({"event": "test", "step": self.progress.best_step, "test_accuracy": test})
        summary = {**self.record(), "steps_done": self.progress.step, "best_step": self.progress.best_step,
                   "best_dev_accuracy": self.progress.best_dev, "test_accuracy": test,
                   "train_seconds": seconds, "stopped": stopped}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot(self.out / "metrics.jsonl", self.out / "plot.png")
        return summary

    def _log(self, record, mode="a"):
        with (self.out / "metrics.jsonl").open(mode) as file:
            file.write(json.dumps(record) + "\n")


def _spec(spec):
    from pezo.golden.spec import PerturbSpec
    return None if spec is None else PerturbSpec.from_dict(spec)


def _load_weights(model, path):
    from safetensors.torch import load_model
    load_model(model, str(path))


def plot(metrics, target):
    """Loss per step and accuracy per evaluation of a metrics.jsonl, as a PNG titled with the run's seed."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    records = [json.loads(line) for line in Path(metrics).read_text().splitlines()]
    config = records[0]
    steps = [r for r in records if "loss_plus" in r]
    evals = [r for r in records if r.get("event") == "eval"]
    tests = [r for r in records if r.get("event") == "test"]
    figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot([r["step"] for r in steps], [(r["loss_plus"] + r["loss_minus"]) / 2 for r in steps])
    loss_axes.set(xlabel="step", ylabel="loss (mean of L+ and L-)")
    accuracy_axes.plot([r["step"] for r in evals], [r["dev_accuracy"] for r in evals], marker="o", label="dev")
    accuracy_axes.plot([r["step"] for r in tests], [r["test_accuracy"] for r in tests], "s",
                       label="test (dev-selected)")
    accuracy_axes.set(xlabel="step", ylabel="accuracy")
    accuracy_axes.legend()
    figure.suptitle(f"{config['perturb']} on {config['model']} / {config['task']}, k={config['k']}, "
                    f"seed {config['seed']}")
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    pyplot.close(figure)
