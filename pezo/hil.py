"""Training through the RTL (`pezo hil`): ZO-SGD steps where every perturbed weight the forward passes use and
every updated weight come out of the simulated engine and generator; the host only computes the losses and c.
Two ways (`via`):

- `harness`: the engine in sim/engine_harness.v, whose memory holds the weights and takes the updates back;
- `axi`: the engine's IP (hw/axi_stream.py) as a ZCU102's processor drives it: the host driver (host/driver.py)
  writes its registers over AXI4-Lite and moves the weights through two DMAs (sim/processor.py), taking each ZO
  step with `ZOEngine.step`.

Beside each step, the golden trainer (train/loop.py's Run with `--numerics engine`, in the same process, on the
same model, batch and seeds) takes the same step; the host compares the losses and every bit of every weight after
every step, and records them in the report (`steps`: one record per step; `identical`: all of them agree).
"""
import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import torch

from . import files, reading
from .golden.stream import hop
from .hw.engine import PERTURB_MINUS, PERTURB_PLUS, UPDATE
from .hw.ip import write_ip
from .host.driver import step_scalars
from .sim.engine_sim import build, format_bits, from_bits, lane_bits
from .sim.unit import run_bench
from .train.engine import NUMERICS

STEP_MODES = (PERTURB_PLUS, PERTURB_MINUS, UPDATE)


def trainable(run):
    """The run's trainable weights, flattened in the engine's order (docs/spec.md section 9)."""
    return torch.cat([param.detach().reshape(-1) for param in run.zo.params])


def beats_of(run):
    """Beats per pass: the trainable values (the optimizer counts them) in whole words."""
    return -(-run.zo.values // run.zo.source.spec.lanes)


def padded(run):
    """The flattened weights, zero-padded to whole beats."""
    flat = trainable(run)
    return torch.cat([flat, flat.new_zeros(beats_of(run) * run.zo.source.spec.lanes - flat.numel())])


def digest(values):
    return hashlib.sha256(values.contiguous().view(torch.int32).numpy().tobytes()).hexdigest()


def make_run(config):
    from .train.config import Config
    from .train.loop import Run
    return Run(Config(**config), progress_bar=False)


class Host:
    """The host side of the training loop, run inside the simulator's Python: computes the losses and c, and keeps
    the golden trainer in step. Via the harness (sim/engine_driver.py) it chooses each pass's mode and scalars
    (`next_pass`) and reads the engine's output from the dump (`passed`); via the AXI IP
    (sim/axi_engine_bench.py) the host driver does both, and the host only gives it the loss (`drive`)."""

    def __init__(self, plan):
        self.plan, self.run = plan, make_run(plan["config"])
        self.fmt = NUMERICS[plan["config"]["numerics"]]
        if "weights_sha256" in plan and digest(padded(self.run)) != plan["weights_sha256"]:
            raise RuntimeError("the host's starting weights differ from the ones loaded into the harness")
        self.dump = open(plan["dump"]) if "dump" in plan else None
        self.step, self.pass_number, self.records, self.losses, self.perturbed_differing = 0, 0, [], [], []
        self.begin = time.perf_counter()
        self.threads = torch.get_num_threads()

    def next_pass(self):
        """(mode, c bits, d bits) of the next pass, or None when every step is done."""
        if self.step == self.plan["steps"]:
            self.dump.close()
            return None
        mode = STEP_MODES[self.pass_number]
        if mode != UPDATE:
            return mode, 0, 0
        self.grad, c, d = step_scalars(self.losses[0].item(), self.losses[1].item(),
                                       self.run.zo.param_groups[0]["lr"], self.run.engine_exponent)
        return mode, c, d

    def passed(self):
        """Read the pass's output; after a perturb pass evaluate the loss on it, after the update compare."""
        words = [int(self.dump.readline(), 16) for _ in range(beats_of(self.run))]
        bits = lane_bits(words, self.run.zo.source.spec.lanes, format_bits(self.fmt))
        values = from_bits(bits.view(-1), self.fmt)[:self.run.zo.values]
        if STEP_MODES[self.pass_number] != UPDATE:
            self.loss(values)
        else:
            self.compare(values)

    def drive(self, engine):
        """`pezo hil --via axi`: the steps, each taken by the host driver's `engine` (host/driver.py ZOEngine)."""
        engine.load(trainable(self.run).numpy(), hop(self.run.zo.source.spec, self.run.zo.values))
        while self.step < self.plan["steps"]:
            _, _, self.grad = engine.step(lambda values: self.loss(torch.from_numpy(values)).item(),
                                          self.run.zo.param_groups[0]["lr"], self.run.engine_exponent)
            self.compare(torch.from_numpy(engine.values()))

    def loss(self, values):
        """The loss on a perturb pass's output `values` (the passes come plus, then minus), counting the values
        that differ from the golden trainer's perturbed weights."""
        golden = self.run.perturbed(1 if self.pass_number == 0 else -1)
        self.perturbed_differing.append(int((golden.view(torch.int32) != values.view(torch.int32)).sum()))
        self.losses.append(self.run.loss_reading(values, self.step))
        self.pass_number += 1
        return self.losses[-1]

    def compare(self, values):
        """After the update pass emitted `values`: the golden trainer's step, and the step's record."""
        self.run.step()
        golden = trainable(self.run)
        same = torch.equal(golden.view(torch.int32), values.view(torch.int32))
        last = self.run.zo.last.losses
        record = {"step": self.step + 1, "loss_plus": self.losses[0].item(), "loss_minus": self.losses[1].item(),
                  "projected_grad": self.grad, "golden_loss_plus": last["loss_plus"],
                  "golden_loss_minus": last["loss_minus"], "perturbed_differing": self.perturbed_differing,
                  "weights_identical": same,
                  "weights_differing": int((golden.view(torch.int32) != values.view(torch.int32)).sum()),
                  "weights_sha256": digest(values), "threads": self.threads,
                  "seconds": time.perf_counter() - self.begin}
        record["identical"] = (same and not any(self.perturbed_differing)
                               and record["loss_plus"] == record["golden_loss_plus"]
                               and record["loss_minus"] == record["golden_loss_minus"])
        self.records.append(record)
        files.write_file(self.plan["report"], json.dumps({"steps": self.records}, indent=1) + "\n")
        self.step, self.pass_number, self.losses, self.perturbed_differing = self.step + 1, 0, [], []


@dataclasses.dataclass(frozen=True)
class Outcome:
    steps: list
    seconds: float
    build_seconds: float | None     # None: counted in `seconds`
    weights: int

    @property
    def identical(self):
        return bool(self.steps) and all(step["identical"] for step in self.steps)


OWNS = {"harness": ["rtl/", "build/", "build.log", "engine_harness.v", "run/", "report.json"],
        "axi": ["ip/", "run/", "plan.json", "report.json"]}
"""What `pezo hil` writes into its folder, each way."""


def train_through_rtl(config, steps, simulator, folder, via="harness"):
    """Run `steps` ZO steps of `config` (a Config dict with numerics engine or engine-bf16) through the engine
    simulated in `folder` (claimed by the caller for OWNS[via]), `via` its harness or its AXI IP; returns the
    Outcome (its report is also in folder/report.json)."""
    run = make_run(config)
    fmt = NUMERICS[config["numerics"]]
    folder = Path(os.path.abspath(folder))
    report = folder / "report.json"
    plan = {"config": config, "steps": steps, "report": str(report)}
    host = {"PEZO_ENGINE_HOST": f"{__name__}:{Host.__name__}"}
    if via == "axi":
        begin = time.perf_counter()
        top, _ = write_ip(run.zo.source.spec, folder / "ip", force=True, engine=fmt)
        files.write_file(folder / "plan.json", json.dumps(plan))
        if not run_bench([folder / "ip" / f"{top}.v"], top, "pezo.sim.axi_engine_bench", simulator, folder / "run",
                         {"PEZO_ENGINE_PLAN": folder / "plan.json", **host}, "host"):
            raise RuntimeError(f"the engine IP's cocotb bench failed: see {folder / 'run' / 'sim.log'}")
        seconds, build_seconds = time.perf_counter() - begin, None
    else:
        weights = padded(run)
        simulation = build(run.zo.source.spec, fmt, simulator, folder, beats_of(run))
        plan.update(dump=str(folder / "run" / "dump.hex"), e=run.engine_exponent, weights_sha256=digest(weights))
        _, seconds = simulation.run(weights, plan, host=host)
        build_seconds = simulation.build_seconds
    recorded = reading.read_json(report, "the training-through-RTL report")["steps"]
    return Outcome(recorded, seconds, build_seconds, trainable(run).numel())
