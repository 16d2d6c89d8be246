"""ZO-SGD: the MeZO step, with u from any perturbation source.

One step, in place and without copying a parameter or keeping u between passes:

    theta += eps u;  L+ = loss(theta + eps u)
    theta -= 2 eps u;  L- = loss(theta - eps u)
    theta += eps u                                   (back to theta)
    g = (L+ - L-) / (2 eps)                          (the projected gradient)
    theta -= lr (g u + wd theta)                     (wd skipped for biases and layer norms, as MeZO does)

then the source moves on to its next perturbation. The arithmetic follows MeZO's operation order, so in
`gaussian` mode the weights after a step are bit-identical to MeZO's.
"""
import dataclasses
import math

import torch

NO_DECAY = ("bias", "layer_norm", "layernorm")


class NonFiniteLoss(ArithmeticError):
    """A loss was NaN or infinite; the step was not applied."""


@dataclasses.dataclass
class StepResult:
    loss_plus: float
    loss_minus: float
    projected_grad: float


class ZOSGD:
    """Zeroth-order SGD over a model's trainable parameters (named_parameters order).

    zo = ZOSGD(model, perturbations.make("pezo-otf"), lr=1e-6, eps=1e-3)
    loss = zo.step(loss_fn, batch)      # loss_fn(batch) -> scalar tensor; returns L+ as MeZO does
    """

    def __init__(self, model, perturbation, lr=1e-6, eps=1e-3, weight_decay=0.0):
        self.model = model.eval()
        self.perturbation = perturbation
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.named = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
        self.params = [param for _, param in self.named]
        self.values = sum(param.numel() for param in self.params)
        self.last = None

    @torch.no_grad()
    def step(self, loss_fn, batch):
        """One ZO step on `batch`; raises NonFiniteLoss (weights restored, nothing applied) on a NaN/inf loss."""
        self._perturb(1)
        loss_plus = loss_fn(batch).detach()
        self._perturb(-2)
        loss_minus = loss_fn(batch).detach()
        self._perturb(1)
        projected_grad = ((loss_plus - loss_minus) / (2 * self.eps)).item()
        self.last = StepResult(loss_plus.item(), loss_minus.item(), projected_grad)
        if not all(map(math.isfinite, dataclasses.astuple(self.last))):
            raise NonFiniteLoss(f"non-finite loss: L+={self.last.loss_plus}, L-={self.last.loss_minus}")
        self._update(projected_grad)
        self.perturbation.next(self.values)
        return self.last.loss_plus

    def _perturb(self, scale):
        for param, u in zip(self.params, self.perturbation.tensors(self.params)):
            param.add_(u.mul_(scale * self.eps))

    def _update(self, projected_grad):
        for (name, param), u in zip(self.named, self.perturbation.tensors(self.params)):
            u.mul_(projected_grad)
            if self.weight_decay and not any(word in name for word in NO_DECAY):
                u.add_(param * self.weight_decay)
            param.sub_(u.mul_(self.lr))
