"""The ZO engine's numerics in the trainer (docs/spec.md section 11; `pezo train --numerics engine`).

ZO-SGD as the engine computes it:

- weights are stored in the engine's format (fp32, or bf16 values in fp32 tensors);
- each forward pass reads theta + s eps u, computed tensor by tensor when the model reads the tensor
  (torch.nn.utils.parametrize), never written into the weights: peak extra memory is about one tensor;
- the update writes round(d theta - c u), with c = fp32(lr g) and d = fp32(1 - lr wd).

eps must be a power of two (eps u is then exact), and the source must give any tensor's u alone
(`tensor(param, position, offset)`: the streamed sources, train/perturbations.py STREAMED), since a model reads its
tensors in its own order.
"""
import contextlib
import math

import torch
from torch.nn.utils import parametrize

from pezo.golden import engine

from .perturbations import STREAMED

NUMERICS = {"in-place": None, "engine": "fp32", "engine-bf16": "bf16"}
"""--numerics -> the engine's weight format (None: MeZO's in-place passes)."""


def check(method, queries, estimator, eps, perturb):
    """Refuse (ValueError, one line) what the engine's numerics cannot run."""
    if method != "zo-sgd" or queries != 1 or estimator != "two-sided":
        raise ValueError(f"--numerics engine runs zo-sgd with one two-sided query (the engine's update is "
                         f"theta - c u), not {method} with queries {queries}, estimator {estimator}")
    e = -math.log2(eps) if eps > 0 else math.nan
    if not (math.isfinite(e) and e == int(e) and 0 <= e <= 63):
        raise ValueError(f"eps={eps} is not 2^-e for an integer e in 0..63: --numerics engine needs one (e.g. "
                         f"--eps {2.0 ** -10}), so that eps u is exact")
    if perturb not in STREAMED:
        raise ValueError(f"--numerics engine reads any tensor's u alone, which the {perturb} source cannot give: "
                         f"allowed {', '.join(STREAMED)}")


class Perturbed(torch.nn.Module):
    """A parametrization: the engine's perturbed read of one tensor, for the pass the numerics has open."""

    def __init__(self, numerics, index):
        super().__init__()
        self.numerics, self.index = numerics, index

    def forward(self, theta):
        return self.numerics.read(self.index, theta)


class EngineNumerics:
    """The engine's passes and update for a ZO-SGD optimizer over `module`'s trainable tensors."""

    def __init__(self, optimizer, module, fmt):
        check(optimizer.name, optimizer.args["queries"], optimizer.args["estimator"], optimizer.eps,
              optimizer.source.describe()["perturb"])
        e = -math.log2(optimizer.eps)
        self.optimizer, self.module, self.fmt, self.e = optimizer, module, fmt, int(e)
        self.params = [param for _, param, _ in optimizer.active()]
        self.offsets = [sum(param.numel() for param in self.params[:i]) for i in range(len(self.params))]
        self.opened = None
        self.store()

    def store(self):
        """Round the weights to the format once (bf16: to nearest even), as the engine's memory holds them."""
        if self.fmt == "bf16":
            with torch.no_grad():
                for param in self.params:
                    param.copy_(engine.update(param, torch.zeros_like(param), 0.0, self.fmt))

    def slots(self):
        """(module, attribute, index) of every place a trainable tensor is registered (tied weights: several)."""
        index = {id(param): i for i, param in enumerate(self.params)}
        return [(owner, name, index[id(param)]) for owner in self.module.modules()
                for name, param in owner.named_parameters(recurse=False) if id(param) in index]

    @contextlib.contextmanager
    def reading(self, position, sign):
        """Forward passes in this block read theta + sign eps u(position), the engine's perturb on read."""
        with self._reads(lambda index, theta: self._perturbed(index, theta, position, sign)):
            yield

    @contextlib.contextmanager
    def reading_values(self, values):
        """Forward passes in this block read `values` (the trainable weights flattened in the stream's order: what
        a hardware engine emitted) instead of the weights, through the same parametrizations."""
        pieces = [values[offset:offset + param.numel()].view(param.shape)
                  for param, offset in zip(self.params, self.offsets)]
        with self._reads(lambda index, theta: pieces[index].clone()):
            yield

    def perturbed_values(self, sign):
        """What the engine's perturb pass emits for the current perturbation (sign +1 or -1), flattened in the
        stream's order."""
        position = self.optimizer.source.position
        return torch.cat([self._perturbed(index, param, position, sign).reshape(-1)
                          for index, param in enumerate(self.params)])

    def _perturbed(self, index, theta, position, sign):
        """theta + sign eps u(position) for the trainable tensor `index`, as the engine emits it."""
        u = self.optimizer.source.tensor(theta, position, self.offsets[index])
        return engine.perturb(theta, u, sign, self.e, self.fmt)

    @contextlib.contextmanager
    def _reads(self, read):
        """Forward passes in this block read read(index, theta) for each trainable tensor (tied ones included)."""
        slots = self.slots()
        self.opened = read
        try:
            for owner, name, index in slots:
                parametrize.register_parametrization(owner, name, Perturbed(self, index), unsafe=True)
            yield
        finally:
            self.opened = None
            for owner, name, _ in slots:
                if parametrize.is_parametrized(owner, name):
                    parametrize.remove_parametrizations(owner, name, leave_parametrized=False)

    def read(self, index, theta):
        return self.opened(index, theta)

    def two_point(self, closure, position):
        """L(theta + eps u) and L(theta - eps u); theta is never changed."""
        if closure is None:
            return None, None
        with self.reading(position, 1):
            loss_plus = closure().detach()
        with self.reading(position, -1):
            loss_minus = closure().detach()
        return loss_plus, loss_minus

    def update(self, estimate):
        """theta = round(d theta - c u) per tensor, c = fp32(lr g), d = fp32(1 - lr wd)."""
        (position, grad), = estimate.queries
        for (name, param, group), offset in zip(self.optimizer.active(), self.offsets):
            lr = group["lr"]
            c, d = engine.fp32(lr * grad), engine.fp32(1 - lr * self.optimizer.decay(name, group))
            u = self.optimizer.source.tensor(param, position, offset)
            param.copy_(engine.update(param, u, c, self.fmt, d))
