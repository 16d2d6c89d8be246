"""The training loop: few-shot ZO fine-tuning with evaluation, checkpoints, resume, metrics and a plot.

A run writes into its own folder:

- `config.json`: every setting, seeds included;
- `metrics.jsonl`: one record per step (losses, projected gradients, lr, seconds) and per evaluation;
- `checkpoint/`: the trainable weights (all of them in full fine-tuning, only the adapter's with LoRA or prefix
  tuning) and the state after the latest evaluation: the optimizer's (its method's buffers, step count and the
  perturbation source's position), the lr schedule's and the run's progress; `--resume` continues from it
  bit-identically;
- `best/`: the trainable weights with the best dev accuracy so far (the dev-selected checkpoint);
- `summary.json` and `plot.png` at the end: the test accuracy of the dev-selected weights.

Batches are a function of (seed, step): epoch e visits the training set in the order of a permutation seeded with
(seed, e), so resuming needs no sampler state.
"""
import dataclasses
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pezo import errors, files

from . import adapters, data, distributed, engine, models, perturbations, tasks, top, zo
from .zo import NonFiniteLoss

WEIGHTS = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
STATE = "state.json"
SCHEDULES = ("constant", "linear", "cosine")
OWNS = ["config.json", "metrics.jsonl", "checkpoint/", "best/", "summary.json", "plot.png"]
"""What a run writes in its folder."""


@dataclasses.dataclass
class Config:
    """Every setting of a run. template/label_words: a custom task instead of `task`; spec: the generator spec
    (dict) of a streamed source, None for its default; method_args: the ZO method's own arguments (zo.METHODS);
    peft: None (full fine-tuning), "lora" (lora_r, lora_alpha) or "prefix" (prefix_tokens); device: the torch
    device; forward: the forward passes' precision (tasks.FORWARDS: fp32, or bf16 autocast over fp32 weights);
    numerics: MeZO's in-place passes, or the engine's perturb on read and update with fp32 or bf16 weights
    (train/engine.py); compensate_scale: lr / E[u^2] and eps / sqrt(E[u^2]) of the source (golden/quality.py), so
    that sources with other mean squares take equal effective steps; top_blocks: 0 trains the whole model, N > 0
    only its top N blocks over kept states of the frozen part (train/top.py)."""
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
    method: str = "zo-sgd"
    method_args: dict = dataclasses.field(default_factory=dict)
    schedule: str = "constant"
    peft: str | None = None
    lora_r: int = 8
    lora_alpha: int = 16
    prefix_tokens: int = 5
    steps: int = 1000
    lr: float = 1e-6
    eps: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 16
    eval_every: int = 100
    seed: int = 0
    device: str = "cpu"
    forward: str = "fp32"
    numerics: str = "in-place"
    compensate_scale: bool = False
    top_blocks: int = 0

    @classmethod
    def from_record(cls, record, path):
        """The Config a run's config.json (`record`, read from `path`) records: its fields of their kinds (other
        keys are the run's extras: the source's seed or spec, its quality, the layout); a BadFile naming the file
        and field otherwise."""
        kinds = files.kinds_of(cls)
        files.check_record(record, path, "a run's config", kinds, required=("out",), others=True)
        config = cls(**{key: value for key, value in record.items() if key in kinds})
        unrecorded = sorted(set(zo.resolved(config.method, {})) - set(config.method_args))
        if unrecorded:
            print(f"warning: {path} does not record {config.method}'s {', '.join(unrecorded)} (an earlier pezo "
                  f"recorded only the arguments given): the run goes on with today's defaults", file=sys.stderr)
        return config

    def check(self):
        """Refuse (ValueError, one line naming the value and what is allowed) a setting no run can use: the one
        check of a config, whether it comes from options, a grid point or a recorded run."""
        if self.perturb not in perturbations.NAMES:
            raise ValueError(f"perturb {self.perturb!r} is unknown: allowed {', '.join(perturbations.NAMES)}")
        if self.method not in zo.METHODS:
            raise ValueError(f"method {self.method!r} is unknown: allowed {', '.join(zo.METHODS)}")
        zo.METHODS[self.method].checked_arguments(self.method_args)
        if self.label_words is not None and not all(isinstance(word, str) for word in self.label_words):
            raise ValueError(f"label_words={self.label_words!r}: allowed a list of words (text)")
        for name in ("k", "test_size", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} is out of range: allowed 1 or more")
        for name, owner in (("lora_r", "lora"), ("lora_alpha", "lora"), ("prefix_tokens", "prefix")):
            if self.peft != owner and getattr(self, name) != getattr(Config, name):
                raise ValueError(f"{name}={getattr(self, name)} applies to peft {owner}, and this run's peft is "
                                 f"{self.peft}: give --peft {owner} or leave {name} out")
        zo.check_hyperparameters(self.lr, self.eps, self.weight_decay)
        adapters.check(self.peft, self.lora_r, self.lora_alpha, self.prefix_tokens)
        if self.top_blocks < 0:
            raise ValueError(f"top_blocks={self.top_blocks} is out of range: allowed 0 (the whole model) or more")
        if self.steps < 0:
            raise ValueError(f"steps={self.steps} is out of range: allowed 0 or more")
        if not 0 <= self.seed < 2 ** 32:
            raise ValueError(f"seed={self.seed} is out of range: allowed 0..{2 ** 32 - 1}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is unknown: allowed {', '.join(SCHEDULES)}")
        distributed.check_device(self.device)
        if self.forward not in tasks.FORWARDS:
            raise ValueError(f"forward {self.forward!r} is unknown: allowed {', '.join(tasks.FORWARDS)}")
        if self.numerics not in engine.NUMERICS:
            raise ValueError(f"numerics {self.numerics!r} is unknown: allowed {', '.join(engine.NUMERICS)}")
        if self.compensate_scale and engine.NUMERICS[self.numerics]:
            raise ValueError(f"compensate_scale would move eps off the power of two the {self.numerics} numerics "
                             f"need: choose lr and eps for the source instead")
        if engine.NUMERICS[self.numerics]:
            engine.check(self.method, self.method_args.get("queries", 1),
                         self.method_args.get("estimator", "two-sided"), self.eps, self.perturb)


def compensated(config, quality):
    """(lr, eps) of a run: the config's, or with compensate_scale divided by E[u^2] and its square root."""
    if not config.compensate_scale:
        return config.lr, config.eps
    if quality.mean_square is None:
        raise ValueError(f"compensate_scale needs the source's E[u^2], and its period of {quality.period_values} "
                         f"values is too long to analyse: choose lr and eps for the source instead")
    return config.lr / quality.mean_square, config.eps / math.sqrt(quality.mean_square)


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
    """One training run: the model, data, optimizer and output folder of a Config. With a `layout`
    (train/distributed.py) it is one rank of a distributed run: its loss is the data-parallel mean, its queries
    are shared with the perturbation-parallel ranks, evaluation is sharded, and only rank 0 writes files."""

    def __init__(self, config, progress_bar=True, layout=None):
        config.check()
        check_layout(config, layout)
        self.config, self.out, self.layout = config, Path(config.out), layout
        self.writer = layout is None or layout.writer
        self.progress_bar = progress_bar and self.writer
        task = tasks.custom(config.template, config.label_words) if config.template else tasks.get(config.task)
        source = perturbations.make(config.perturb, seed=config.seed, spec=_spec(config.spec))
        examples = data.read_file(config.data, len(task.label_words)) if config.data else data.rotten_tomatoes()
        self.split = data.few_shot(examples, config.k, config.seed, len(task.label_words), config.test_size)
        torch.manual_seed(config.seed)                  # an adapter's initial weights
        self.lm = adapters.adapt(models.load(config.model), config.peft, r=config.lora_r, alpha=config.lora_alpha,
                                 tokens=config.prefix_tokens, top_blocks=config.top_blocks)
        self.device = distributed.rank_device(config.device)
        self.lm.model.to(self.device)
        self.classifier = (top.TopClassifier(self.lm, task, config.top_blocks, forward=config.forward)
                           if config.top_blocks else tasks.Classifier(self.lm, task, forward=config.forward))
        self.quality = source.quality(sum(param.numel() for param in self.lm.model.parameters()
                                          if param.requires_grad), self.device)
        self.lr, self.eps = compensated(config, self.quality)
        self.zo = zo.make(config.method, self.lm.model, source, lr=self.lr, eps=self.eps,
                          weight_decay=config.weight_decay, **config.method_args)
        if engine.NUMERICS[config.numerics]:
            self.zo.numerics = engine.EngineNumerics(self.zo, self.lm.model, engine.NUMERICS[config.numerics])
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.zo, lr_factor(config.schedule, config.steps))
        self.progress = Progress()
        self.checkpointed = 0             # the step of the last checkpoint written
        if layout is not None and layout.pp > 1:
            self.zo.share = distributed.share_queries(self.zo, layout)

    def start(self):
        """A fresh run: refuses a non-empty folder; writes the config and evaluates the starting weights."""
        if self.writer:
            if self.out.exists() and not self.out.is_dir():
                raise files.Refused(f"{self.out} is a file: give a folder as --out")
            if self.out.exists() and not files.is_empty(self.out):
                raise files.Refused(f"{self.out} is not empty: give another --out or --resume")
            files.own(self.out, OWNS)
            warning = self.quality.warning(self.config.steps)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
            files.write_file(self.out / "config.json", json.dumps(self.record(), indent=2) + "\n")
            files.write_file(self.out / "metrics.jsonl", json.dumps({"event": "config", **self.record()}) + "\n")
        self._evaluate()

    def resume(self):
        """Continue from `checkpoint/`: weights, progress and perturbation state; later metrics are dropped. Rank 0
        reads the checkpoint and broadcasts it. A run stopped before its first checkpoint starts again from step
        0 (its config and metrics, pezo's own, are replaced)."""
        folder = self.out / "checkpoint"
        if not distributed.from_writer(self.layout, lambda: (folder / STATE).exists()):
            if self.writer:
                for name in OWNS:
                    files.discard(self.out / name.rstrip("/"))
            self.start()
            return
        state, weights, optimizer, records = distributed.from_writer(self.layout, lambda: (
            files.read_json(folder / STATE, "a checkpoint's state"), _contents(folder / WEIGHTS),
            _contents(folder / OPTIMIZER), read_metrics(self.out / "metrics.jsonl")))
        _load_weights(self.lm.model, weights, folder / WEIGHTS)
        optimizer = _parse(torch.load, io.BytesIO(optimizer), folder / OPTIMIZER, weights_only=True,
                           map_location=self.device)
        files.check_record(optimizer, folder / OPTIMIZER, "a checkpoint's optimizer state",
                           {"optimizer": (dict,), "schedule": (dict,)}, required=("optimizer", "schedule"))
        _parse(self.zo.load_state_dict, optimizer["optimizer"], folder / OPTIMIZER)
        _parse(self.schedule.load_state_dict, optimizer["schedule"], folder / OPTIMIZER)
        self.progress = _progress(state, folder / STATE, self.schedule.last_epoch)
        if self.progress.step > self.config.steps:
            raise ValueError(f"--steps {self.config.steps} is below the checkpoint's step {self.progress.step}: "
                             f"allowed --steps {self.progress.step} or more")
        self.checkpointed = self.progress.step
        if self.writer:
            kept = [record for record in records if record.get("step", 0) <= self.progress.step
                    and record.get("event") not in ("test", "stopped")]
            files.write_file(self.out / "metrics.jsonl", "".join(json.dumps(record) + "\n" for record in kept))
        self._log({"event": "resume", "step": self.progress.step, "steps": self.config.steps,
                   **(self.layout.describe() if self.layout else {})})

    def record(self):
        """The config, with every method argument (the defaults too), plus what the perturbation source adds (its
        seed or spec, its quality analysis for this model), the lr and eps in effect, and the ranks' layout."""
        layout = self.layout.describe() if self.layout else {}
        return {**dataclasses.asdict(self.config), "method_args": dict(self.zo.args), **self.zo.source.describe(),
                "quality": self.quality.to_dict(),
                "effective_lr": self.lr, "effective_eps": self.eps, **layout}

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
                           f"(step {self.checkpointed}) is kept in {self.out / 'checkpoint'}")
                self._log({"event": "stopped", "step": self.progress.step + 1, "reason": str(error)})
                break
            bar.update(1)
            bar.set_postfix(loss=f"{self.zo.last.loss:.4f}", dev=f"{self.progress.best_dev:.3f}")
            if self.progress.step % config.eval_every == 0 or self.progress.step == config.steps:
                self._evaluate()
        bar.close()
        return self._finish(time.perf_counter() - begin, stopped)

    def batch(self, step):
        """The examples of step `step`'s mini-batch."""
        config = self.config
        return self.split.train.take(batch_indices(step, config.batch_size, len(self.split.train), config.seed))

    def loss_reading(self, values, step):
        """The loss of step `step`'s batch when the forward pass reads `values` (the trainable weights flattened in
        the stream's order, as a hardware engine emitted them) instead of the weights: engine numerics only."""
        batch = self.batch(step)
        with torch.no_grad(), self.zo.numerics.reading_values(values):
            return self.classifier.loss((batch.texts, batch.labels)).detach()

    def perturbed(self, sign):
        """The weights the golden engine's perturb pass (sign +1 or -1) emits for the current perturbation,
        flattened in the stream's order: engine numerics only."""
        return self.zo.numerics.perturbed_values(sign)

    @property
    def engine_exponent(self):
        """e of the engine numerics' eps = 2^-e."""
        return self.zo.numerics.e

    def _step(self):
        step = self.progress.step
        batch = self.batch(step)
        begin, lr = time.perf_counter(), self.zo.param_groups[0]["lr"]
        sent = self.layout.sent if self.layout else 0
        if self.layout is None:
            self.zo.step(lambda: self.classifier.loss((batch.texts, batch.labels)))
        else:
            self.zo.step(lambda: distributed.batch_loss(self.classifier, batch.texts, batch.labels, self.layout))
        self.schedule.step()
        self.progress.step = step + 1
        last = self.zo.last
        grads = [coefficient for _, coefficient in last.queries]
        traffic = {"sent_bytes": self.layout.sent - sent} if self.layout else {}
        self._log({"step": step + 1, "loss": last.loss, **last.losses,
                   "projected_grad": grads[0] if len(grads) == 1 else grads, "lr": lr,
                   "seconds": time.perf_counter() - begin, **traffic})

    def _evaluate(self):
        """Dev accuracy now; keeps the weights if they are the best so far, then checkpoints."""
        dev = self._accuracy(self.split.dev)
        self._log({"event": "eval", "step": self.progress.step, "dev_accuracy": dev})
        if dev > self.progress.best_dev:
            self.progress.best_dev, self.progress.best_step = dev, self.progress.step
            self._save("best")
        self._save("checkpoint")

    def _accuracy(self, examples):
        if self.layout is None:
            return self.classifier.accuracy(examples.texts, examples.labels)
        return distributed.accuracy(self.classifier, examples.texts, examples.labels, self.layout)

    def _save(self, name):
        """Write weights and state as the folder `name/`, whole or not at all (pezo.files); rank 0 alone."""
        from safetensors.torch import save_file
        if name == "checkpoint":
            self.checkpointed = self.progress.step
        if not self.writer:
            return
        with files.replacing(self.out / name, force=True) as staging:
            save_file({key: param.detach().contiguous() for key, param, _ in self.zo.named},
                      str(staging / WEIGHTS))
            if name == "checkpoint":
                torch.save({"optimizer": self.zo.state_dict(), "schedule": self.schedule.state_dict()},
                           staging / OPTIMIZER)
            state = {"progress": dataclasses.asdict(self.progress), "seed": self.config.seed}
            (staging / STATE).write_text(json.dumps(state) + "\n")

    def _finish(self, seconds, stopped):
        """Test accuracy of the dev-selected weights; summary.json and plot.png."""
        agree = distributed.ranks_agree(self.zo.params, self.layout) if self.layout else None
        best = self.out / "best" / WEIGHTS
        _load_weights(self.lm.model, distributed.from_writer(self.layout, lambda: _contents(best)), best)
        test = self._accuracy(self.split.test)
        self._log({"event": "test", "step": self.progress.best_step, "test_accuracy": test})
        summary = {**self.record(), "steps_done": self.progress.step, "best_step": self.progress.best_step,
                   "best_dev_accuracy": self.progress.best_dev, "test_accuracy": test,
                   "train_seconds": seconds, "stopped": stopped,
                   **({"ranks_agree": agree, "sent_bytes": self.layout.sent} if self.layout else {})}
        if self.writer:
            files.write_file(self.out / "summary.json", json.dumps(summary, indent=2) + "\n")
            plot(read_metrics(self.out / "metrics.jsonl"), self.out / "plot.png")
        return summary

    def _log(self, record):
        if not self.writer:
            return
        with (self.out / "metrics.jsonl").open("a") as file:
            file.write(json.dumps(record) + "\n")


def check_layout(config, layout):
    """Refuse a method that cannot run on ranks (before any model is loaded)."""
    if layout is not None and not getattr(zo.METHODS.get(config.method), "gathers_losses", True):
        raise ValueError(f"method {config.method} needs the derivative of the loss itself (forward mode), which "
                         f"the ranks' gathered loss does not carry: it runs in one process only")


SUMMARY_KINDS = {"steps_done": (int,), "best_step": (int,), "best_dev_accuracy": (float,), "test_accuracy": (float,),
                 "train_seconds": (float,), "stopped": (str, type(None)), "quality": (dict, type(None))}
"""The fields of summary.json that pezo reads back (a sweep's points), and their kinds."""


def check_summary(summary, path):
    """A run's summary (summary.json, or a sweep point's copy of it) with the fields pezo reads, of their kinds."""
    required = [key for key in SUMMARY_KINDS if key != "quality"]
    return files.check_record(summary, path, "a run's summary", SUMMARY_KINDS, required=required, others=True)


STEP_KINDS = {"step": (int,), "loss": (float,), "seconds": (float,), "event": (str,), "dev_accuracy": (float,),
              "test_accuracy": (float,)}
"""The fields of metrics.jsonl records that pezo reads back (the plot, a sweep's measures), and their kinds."""


def read_metrics(path):
    """The records of a run's metrics.jsonl, checked: JSON objects (a last line cut short by a killed run is
    dropped), the first the run's config, the fields pezo reads of their kinds; a BadFile naming the file and
    line otherwise."""
    records = files.read_jsonl(path, "a run's metrics (JSON lines)", cut_last=True)
    if not records or records[0].get("event") != "config":
        raise files.BadFile(f"{path} does not begin with the run's config record: the run's metrics are damaged")
    for number, record in enumerate(records, 1):
        files.check_record(record, f"{path} line {number}", "a metrics record", STEP_KINDS, others=True)
    return records


def _spec(spec):
    from pezo.golden.spec import PerturbSpec
    return None if spec is None else PerturbSpec.from_dict(spec)


def _contents(path):
    """The bytes of a run's file; a BadFile naming it where it is missing."""
    if not Path(path).is_file():
        raise files.BadFile(f"{path} is missing: the run's files are incomplete")
    return Path(path).read_bytes()


def _parse(load, data, path, **options):
    """`load(data)` of the file `path`'s contents, with a damaged file named in a BadFile instead of the loader's
    own error."""
    try:
        return load(data, **options)
    except Exception as error:      # safetensors and torch.load each raise their own types for a damaged file
        raise files.BadFile(f"{path} cannot be read ({errors.reason(error, 200)}): the file is damaged, truncated "
                            f"or another run's") from None


def _progress(state, path, scheduled):
    """The Progress a checkpoint's state.json (`state`) records, checked: its fields and the progress's, of their
    kinds, the counts non-negative, and at the step the lr schedule's own state counts (`scheduled`); a BadFile
    naming the file otherwise."""
    files.check_record(state, path, "a checkpoint's state", {"progress": (dict,), "seed": (int,)},
                       required=("progress",))
    kinds = files.kinds_of(Progress)
    progress = files.check_record(state["progress"], f"{path} progress", "a checkpoint's progress", kinds,
                                  required=tuple(kinds))
    if progress["step"] < 0 or progress["best_step"] < 0:
        raise files.BadFile(f"{path}: progress step {progress['step']}, best_step {progress['best_step']}: "
                            f"allowed non-negative counts; the checkpoint is damaged")
    if progress["step"] != scheduled:
        raise files.BadFile(f"{path}: step {progress['step']} disagrees with the checkpoint's lr schedule, at step "
                            f"{scheduled}: the checkpoint is damaged")
    return Progress(**progress)


def _load_weights(model, data, path):
    """Load the trainable tensors of a safetensors file's contents `data` (read from `path`) into `model` (by
    name)."""
    from safetensors.torch import load
    saved, parameters = _parse(load, data, path), dict(model.named_parameters())
    missing = sorted(set(saved) - set(parameters))
    if missing:
        raise ValueError(f"{path} holds tensors the model lacks: {missing[:3]}")
    with torch.no_grad():
        for name, tensor in saved.items():
            parameters[name].copy_(tensor)


def lr_factor(schedule, steps):
    """The lr multiplier at step t: constant 1, linear 1 - t / steps, or cosine (1 + cos(pi t / steps)) / 2."""
    if schedule == "linear":
        return lambda t: max(0.0, 1 - t / max(steps, 1))
    if schedule == "cosine":
        return lambda t: 0.5 * (1 + math.cos(math.pi * min(t, steps) / max(steps, 1)))
    return lambda t: 1.0


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
