"""Perturbation sources: where the vector u of a ZO step comes from.

Every source hands out one perturbation at a time over the trainable tensors, as one u tensor per tensor. The same
u comes back each time `tensors` is called (replay: +eps, -2 eps, +eps and the update use one u) until `next`
moves on, as the hardware's `replay` and `next` do (docs/spec.md section 7). Every perturbation has a small
`position` (a seed or a start word) from which `tensors(params, position)` regenerates it, so a step with several
queries replays each one during its update instead of storing it.

- `gaussian` (MeZO), `rademacher`, `uniform` (naive U(-1, 1), no modulus scaling): a fresh 31-bit seed per
  perturbation, drawn from a seeded numpy RandomState; the tensors are regenerated in order from a torch
  Generator seeded with it (per device; the same numbers as MeZO's `torch.manual_seed(seed)`, without touching
  torch's global RNG), so nothing is stored between passes.
- `pezo-otf`, `pezo-pool`, `clt-gaussian`: the bit-exact golden stream of a spec (golden/spec.py: each registered
  strategy's source; clt-gaussian is pezo's own Gaussian baseline hardware, the Table 6 MeZO row, default 1024
  central-limit lanes of spec seed 1). A perturbation of d values covers ceil(d / lanes) words from its start word;
  the next one starts at the following word (leftover shifting), and values map onto the tensors in order,
  row-major (docs/spec.md section 9). A clt stream does not repeat within 2^63 - 1 words, so it is generated
  afresh, not cached (bench/zo_step.py measures its weight pass against torch's Gaussian).
- `uniform-raw`: the same OtF stream's mantissas without their 2^k scale (the PeZO paper's Table 3 ablation).
"""
import numpy as np
import torch

from pezo.golden import quality
from pezo.golden.spec import STRATEGIES, OtfSpec, PerturbSpec
from pezo.golden.stream import Stream, words_per_step

SEEDED = ("gaussian", "rademacher", "uniform")
"""The sources with a seed and no generator spec."""
MEAN_SQUARES = {"gaussian": 1.0, "rademacher": 1.0, "uniform": 1 / 3}
"""E[u^2] of the seeded sources, by definition."""
RAW = "uniform-raw"
SPECS = {**{cls.source: cls for cls in STRATEGIES.values()}, RAW: OtfSpec}
"""The streamed sources and the spec class each takes: every registered strategy's (golden/spec.py), and the otf
stream's raw mantissas."""
STREAMED = tuple(SPECS)
NAMES = SEEDED + STREAMED


def default_spec(name):
    """The spec a streamed source uses when given none: its class's defaults (the PeZO paper's otf-31x8 and
    pool-4095x12, the MeZO baseline's clt-1024)."""
    return SPECS[name]()


def make(name, seed=0, spec=None):
    """The source called `name` (one of NAMES). Seeded sources use `seed`; streamed ones `spec` (default:
    default_spec), whose strategy must fit the name."""
    if name in SEEDED:
        if spec is not None:
            raise ValueError(f"--perturb {name} takes no generator spec: specs apply to {', '.join(STREAMED)}")
        return SeededPerturbation(name, seed)
    if name not in STREAMED:
        raise ValueError(f"perturbation {name!r} is unknown: allowed {', '.join(NAMES)}")
    spec = spec or default_spec(name)
    if not isinstance(spec, SPECS[name]):
        raise ValueError(f"perturbation {name!r} needs a spec of strategy {SPECS[name].strategy}, got strategy "
                         f"{spec.strategy!r}")
    return StreamPerturbation(spec, raw=name == RAW)


def for_spec(spec):
    """The source of an exported build's spec (from its manifest): its strategy's (pezo-otf, pezo-pool,
    clt-gaussian)."""
    return make(spec.source, spec=spec)


class SeededPerturbation:
    """gaussian, rademacher or uniform tensors regenerated from one seed per perturbation."""

    def __init__(self, name, seed):
        self.name = name
        self.seed = seed
        self.rng = np.random.RandomState(seed)
        self.current = int(self.rng.randint(1_000_000_000))

    @property
    def position(self):
        return self.current

    def tensors(self, params, position=None):
        """u for each tensor of `params`, in order, regenerated from the seed `position` (default: the current
        perturbation's)."""
        seed = self.current if position is None else position
        generators = {}
        for param in params:
            if param.device not in generators:
                generators[param.device] = torch.Generator(param.device).manual_seed(seed)
            yield self._draw(param, generators[param.device])

    def _draw(self, param, generator):
        shape, options = param.size(), {"device": param.device, "generator": generator}
        if self.name == "gaussian":
            return torch.normal(0, 1, shape, dtype=param.dtype, **options)
        if self.name == "rademacher":
            return torch.randint(0, 2, shape, **options).to(param.dtype).mul_(2).sub_(1)
        return torch.rand(shape, dtype=param.dtype, **options).mul_(2).sub_(1)

    def next(self, values):
        self.current = int(self.rng.randint(1_000_000_000))

    def describe(self):
        return {"perturb": self.name, "perturb_seed": self.seed}

    def quality(self, values, device="cpu"):
        """golden/quality.py's analysis for `values` trainable values: independent values, by definition."""
        return quality.independent(values, MEAN_SQUARES[self.name])

    def state_dict(self):
        kind, keys, pos, has_gauss, cached = self.rng.get_state()
        return {"current": self.current, "rng": [kind, keys.tolist(), pos, has_gauss, cached]}

    def load_state_dict(self, state):
        kind, keys, pos, has_gauss, cached = state["rng"]
        self.rng.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        self.current = state["current"]


class StreamPerturbation:
    """u from the golden stream of a spec: a perturbation is a run of whole words that starts at word `start_word`
    (its position), value v of it being lane v mod lanes of word start + v // lanes. The stream keeps one cached
    block per device the tensors live on, so u is made where it is used."""

    def __init__(self, spec, raw=False):
        self.spec = spec
        self.raw = raw
        self.streams = {}
        self.start_word = 0

    @property
    def position(self):
        return self.start_word

    def tensors(self, params, position=None):
        """u for each tensor of `params`: consecutive values of the perturbation that starts at word `position`
        (default: the current one), each a new tensor that the caller may overwrite."""
        offset = 0
        for param in params:
            yield self.tensor(param, self.start_word if position is None else position, offset)
            offset += param.numel()

    def stream(self, device):
        """The golden stream whose values live on `device`."""
        if device not in self.streams:
            self.streams[device] = Stream(self.spec, scaled=not self.raw, device=device)
        return self.streams[device]

    def tensor(self, param, position, offset):
        """u of one tensor alone: the values from `offset` on of the perturbation that starts at word `position`."""
        u = self.stream(param.device).values(position * self.spec.lanes + offset, param.numel()).view(param.shape)
        return u if param.dtype == torch.float32 else u.to(param.dtype)

    def next(self, values):
        """Move on to the perturbation after one of `values` values (whole words, and the spec's hop: docs/spec.md
        section 7)."""
        self.start_word += words_per_step(self.spec, values)

    def describe(self):
        name = RAW if self.raw else self.spec.source
        return {"perturb": name, "spec": self.spec.to_dict()}

    def quality(self, values, device="cpu"):
        """golden/quality.py's analysis of this stream for `values` trainable values, from one period of the
        stream on `device` (the one the tensors will come from, whose cached period it fills)."""
        return quality.analyse(self.spec, values, scaled=not self.raw, stream=self.stream(torch.device(device)))

    def state_dict(self):
        return {"start_word": self.start_word, "spec": self.spec.to_dict()}

    def load_state_dict(self, state):
        if PerturbSpec.from_dict(state["spec"]) != self.spec:
            raise ValueError(f"checkpoint spec {state['spec']} differs from this run's {self.spec.to_dict()}")
        self.start_word = state["start_word"]
