"""A run's settings: `Config`, its one check, and what follows from it alone (the lr and eps in effect, the lr
schedule's factor, whether its method runs on ranks)."""
import dataclasses
import math
import sys

from pezo import reading

from . import adapters, distributed, engine, models, perturbations, tasks, zo

SCHEDULES = ("constant", "linear", "cosine")


@dataclasses.dataclass
class Config:
    """Every setting of a run. template/label_words: a custom task instead of `task`; spec: the generator spec
    (dict) of a streamed source, None for its default; method_args: the ZO method's own arguments (zo.METHODS);
    peft: None (full fine-tuning), "lora" (lora_r, lora_alpha) or "prefix" (prefix_tokens); device: the torch
    device; forward: the forward passes' precision (tasks.FORWARDS: fp32, or bf16 autocast over fp32 weights);
    numerics: MeZO's in-place passes, or the engine's perturb on read and update with fp32 or bf16 weights
    (train/engine.py); compensate_scale: lr / E[u^2] and eps / sqrt(E[u^2]) of the source (golden/quality.py), so
    that sources with other mean squares take equal effective steps; top_blocks: 0 trains the whole model, N > 0
    only its top N blocks over kept states of the frozen part (train/top.py); answer_row: with top_blocks, the last
    block computes the answer position only (about 1.5 times faster, equal to the whole block up to rounding);
    packed: with top_blocks, a batch's prompts run end to end instead of left-padded (no padding multiplied, equal
    up to rounding)."""
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
    answer_row: bool = False
    packed: bool = False

    @classmethod
    def from_record(cls, record, path):
        """The Config a run's config.json (`record`, read from `path`) records: its fields of their kinds (other
        keys are the run's extras: the source's seed or spec, its quality, the layout); a BadFile naming the file
        and field otherwise."""
        kinds = reading.kinds_of(cls)
        reading.check_record(record, path, "a run's config", kinds, required=("out",), others=True)
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
        for name in ("answer_row", "packed"):
            if getattr(self, name) and not self.top_blocks:
                raise ValueError(f"{name} applies to the top-N protocol, and this run trains the whole model: give "
                                 f"--top-blocks N or leave {name} out")
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


def check_layout(config, layout):
    """Refuse a method that cannot run on ranks (before any model is loaded)."""
    if layout.ranked and not getattr(zo.METHODS.get(config.method), "gathers_losses", True):
        raise ValueError(f"method {config.method} needs the derivative of the loss itself (forward mode), which "
                         f"the ranks' gathered loss does not carry: it runs in one process only")


def lr_factor(schedule, steps):
    """The lr multiplier at step t: constant 1, linear 1 - t / steps, or cosine (1 + cos(pi t / steps)) / 2."""
    if schedule == "linear":
        return lambda t: max(0.0, 1 - t / max(steps, 1))
    if schedule == "cosine":
        return lambda t: 0.5 * (1 + math.cos(math.pi * min(t, steps) / max(steps, 1)))
    return lambda t: 1.0
