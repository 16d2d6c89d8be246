"""The training loop: few-shot ZO fine-tuning with evaluation, checkpoints, resume, metrics and a plot. `Run` is
one run (its settings: train/config.py); `carry_out` starts or resumes one and trains it, for `pezo train` and the
sweep's points alike.

A run writes into its own folder (its files' names and readers: train/records.py):

- `config.json`: every setting, seeds included;
- `metrics.jsonl`: one record per step (losses, projected gradients, lr, seconds) and per evaluation;
- `checkpoint/`: the trainable weights (all of them in full fine-tuning, only the adapter's with LoRA or prefix
  tuning) and the state after the latest evaluation, or after the latest step once CHECKPOINT_SECONDS have passed
  without one: the optimizer's (its method's buffers, step count and the perturbation source's position), the lr
  schedule's and the run's progress; `--resume` continues from it bit-identically;
- `best/`: the trainable weights with the best dev accuracy so far (the dev-selected checkpoint);
- `start_answers.json` at the start: the starting weights' (zero-shot) answer to each test example (its label and
  the predicted class, in the test set's order), so that what training gained can be measured example by example;
- `summary.json` and `plot.png` at the end: the test accuracy of the dev-selected weights; `test_answers.json`
  their answers, so that two runs on one test set can be compared example by example.

Batches are a function of (seed, step): epoch e visits the training set in the order of a permutation seeded with
(seed, e), so resuming needs no sampler state.
"""
import contextlib
import dataclasses
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pezo import files, reading

from . import adapters, data, distributed, engine, models, perturbations, quality, tasks, top, zo
from .config import check_layout, compensated, lr_factor
from .records import ANSWERS, METRICS, OPTIMIZER, OWNS, START_ANSWERS, STATE, WEIGHTS, Progress, checked_progress, \
    contents, load_weights, parse, plot, read_metrics
from .zo import NonFiniteLoss

CHECKPOINT_SECONDS = 600
"""The most training time a stopped run loses: a checkpoint is written after the step at which this much time has
passed since the last one, between evaluations too (a full-model step of the default model takes seconds on a CPU,
so a stop between evaluations 250 steps apart could otherwise cost tens of minutes)."""


def batch_indices(step, batch_size, examples, seed):
    """Training-example indices of one step's batch."""
    first = step * batch_size
    epochs = range(first // examples, (first + batch_size - 1) // examples + 1)
    order = np.concatenate([np.random.default_rng([seed, epoch]).permutation(examples) for epoch in epochs])
    offset = first - epochs[0] * examples
    return order[offset:offset + batch_size].tolist()


class Run:
    """One training run: the model, data, optimizer and output folder of a Config, in a plain process, or with a
    ranked `layout` (train/distributed.py) as one rank of a distributed run: its loss is the data-parallel mean, its
    queries are shared with the perturbation-parallel ranks, evaluation is sharded, and only rank 0 writes files."""

    def __init__(self, config, progress_bar=True, layout=distributed.SOLO):
        config.check()
        check_layout(config, layout)
        self.config, self.out, self.layout = config, Path(config.out), layout
        self.writer = layout.writer
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
        self.classifier = (top.TopClassifier(self.lm, task, config.top_blocks, forward=config.forward,
                                             answer_row=config.answer_row, packed=config.packed)
                           if config.top_blocks else tasks.Classifier(self.lm, task, forward=config.forward))
        trained = models.trained_shapes(self.lm.model)
        self.quality = source.quality(sum(math.prod(shape) for _, shape in trained), self.device)
        self.matrix = quality.weakest_matrix(self.quality.period_values, trained)
        self.lr, self.eps = compensated(config, self.quality)
        self.zo = zo.make(config.method, self.lm.model, source, lr=self.lr, eps=self.eps,
                          weight_decay=config.weight_decay, **config.method_args)
        if engine.NUMERICS[config.numerics]:
            self.zo.numerics = engine.EngineNumerics(self.zo, self.lm.model, engine.NUMERICS[config.numerics])
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.zo, lr_factor(config.schedule, config.steps))
        self.progress = Progress()
        self.checkpointed = 0             # the step of the last checkpoint written
        self.checkpointed_at = time.monotonic()
        if layout.pp > 1:
            self.zo.share = distributed.share_queries(self.zo, layout)

    def start(self):
        """A fresh run: refuses a non-empty folder; writes the config and evaluates the starting weights, on dev and
        on test."""
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
            files.write_file(self.out / METRICS, json.dumps({"event": "config", **self.record()}) + "\n")
        self._log({"event": "zero-shot", "step": 0, "test_accuracy": self._test(START_ANSWERS, 0)})
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
            reading.read_json(folder / STATE, "a checkpoint's state"), contents(folder / WEIGHTS),
            contents(folder / OPTIMIZER), read_metrics(self.out / METRICS)))
        load_weights(self.lm.model, weights, folder / WEIGHTS)
        optimizer = parse(torch.load, io.BytesIO(optimizer), folder / OPTIMIZER, weights_only=True,
                           map_location=self.device)
        reading.check_record(optimizer, folder / OPTIMIZER, "a checkpoint's optimizer state",
                             {"optimizer": (dict,), "schedule": (dict,)}, required=("optimizer", "schedule"))
        parse(self.zo.load_state_dict, optimizer["optimizer"], folder / OPTIMIZER)
        parse(self.schedule.load_state_dict, optimizer["schedule"], folder / OPTIMIZER)
        self.progress = checked_progress(state, folder / STATE, self.schedule.last_epoch)
        if self.progress.step > self.config.steps:
            raise ValueError(f"--steps {self.config.steps} is below the checkpoint's step {self.progress.step}: "
                             f"allowed --steps {self.progress.step} or more")
        self.checkpointed, self.checkpointed_at = self.progress.step, time.monotonic()
        if self.writer:
            kept = [record for record in records if record.get("step", 0) <= self.progress.step
                    and record.get("event") not in ("test", "stopped")]
            files.write_file(self.out / METRICS, "".join(json.dumps(record) + "\n" for record in kept))
        self._log({"event": "resume", "step": self.progress.step, "steps": self.config.steps,
                   **self.layout.describe()})

    def record(self):
        """The config, with every method argument (the defaults too), plus what the perturbation source adds (its
        seed or spec, its quality analysis for this model with its weakest matrix), the lr and eps in effect, and
        the ranks' layout."""
        return {**dataclasses.asdict(self.config), "method_args": dict(self.zo.args), **self.zo.source.describe(),
                "quality": {**self.quality.to_dict(), **self.matrix},
                "effective_lr": self.lr, "effective_eps": self.eps, **self.layout.describe()}

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
            elif time.monotonic() - self.checkpointed_at >= CHECKPOINT_SECONDS:
                self._save("checkpoint")
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

    def step(self):
        """One ZO step on its mini-batch, and the lr schedule's; returns the step's estimate (zo.Estimate). `train`
        takes its steps this way and logs them; `pezo hil` keeps its golden trainer in step with the RTL so."""
        step = self.progress.step
        batch = self.batch(step)
        self.zo.step(lambda: self.layout.loss(self.classifier, batch.texts, batch.labels))
        self.schedule.step()
        self.progress.step = step + 1
        return self.zo.last

    def _step(self):
        begin, lr = time.perf_counter(), self.zo.param_groups[0]["lr"]
        sent = self.layout.sent
        last = self.step()
        grads = [coefficient for _, coefficient in last.queries]
        self._log({"step": self.progress.step, "loss": last.loss, **last.losses,
                   "projected_grad": grads[0] if len(grads) == 1 else grads, "lr": lr,
                   "seconds": time.perf_counter() - begin, **self.layout.traffic(sent)})

    def _evaluate(self):
        """Dev accuracy now; keeps the weights if they are the best so far, then checkpoints."""
        dev = self._accuracy(self.split.dev)
        self._log({"event": "eval", "step": self.progress.step, "dev_accuracy": dev})
        if dev > self.progress.best_dev:
            self.progress.best_dev, self.progress.best_step = dev, self.progress.step
            self._save("best")
        self._save("checkpoint")

    def _accuracy(self, examples):
        return distributed.accuracy(self.layout.predictions(self.classifier, examples.texts), examples.labels)

    def _save(self, name):
        """Write weights and state as the folder `name/`, whole or not at all (pezo.files); rank 0 alone."""
        from safetensors.torch import save_file
        if name == "checkpoint":
            self.checkpointed, self.checkpointed_at = self.progress.step, time.monotonic()
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
        agreement = self.layout.agreement(self.zo.params)
        best = self.out / "best" / WEIGHTS
        load_weights(self.lm.model, distributed.from_writer(self.layout, lambda: contents(best)), best)
        test = self._test(ANSWERS, self.progress.best_step)
        self._log({"event": "test", "step": self.progress.best_step, "test_accuracy": test})
        summary = {**self.record(), "steps_done": self.progress.step, "best_step": self.progress.best_step,
                   "best_dev_accuracy": self.progress.best_dev, "test_accuracy": test,
                   "train_seconds": seconds, "stopped": stopped, **agreement, **self.layout.traffic(0)}
        if self.writer:
            files.write_file(self.out / "summary.json", json.dumps(summary, indent=2) + "\n")
            plot(read_metrics(self.out / METRICS), self.out / "plot.png")
        return summary

    def _test(self, name, step):
        """The test accuracy of the weights now (those of `step`); their answers written as the file `name`."""
        predictions = self.layout.predictions(self.classifier, self.split.test.texts)
        if self.writer:
            files.write_file(self.out / name, json.dumps(
                {"step": step, "labels": list(map(int, self.split.test.labels)),
                 "predictions": predictions.tolist()}) + "\n")
        return distributed.accuracy(predictions, self.split.test.labels)

    def _log(self, record):
        if not self.writer:
            return
        with (self.out / METRICS).open("a") as file:
            file.write(json.dumps(record) + "\n")


def carry_out(config, resume=False, layout=distributed.SOLO, progress_bar=True, held=False):
    """The one way pezo carries out a run (`pezo train`, a sweep's points): the Run of `config` (loaded by the
    first rank of each machine first), its folder claimed by rank 0 (pezo.files.work_folder; unless the caller
    `held` it already), started, or with `resume` resumed from its checkpoint (started afresh where there is none),
    and trained. Returns (the Run, its summary)."""
    run = distributed.first_local(layout, lambda: Run(config, progress_bar=progress_bar, layout=layout))
    with files.work_folder(config.out, OWNS) if run.writer and not held else contextlib.nullcontext():
        layout.barrier()                # rank 0 holds the run folder (or has stopped: so do the others)
        run.resume() if resume else run.start()
        return run, run.train()


def _spec(spec):
    from pezo.golden.spec import PerturbSpec
    return None if spec is None else PerturbSpec.from_dict(spec)
