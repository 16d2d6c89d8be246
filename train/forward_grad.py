"""Forward-Grad (Baydin et al., 2022; ZO-Bench Appendix A): the exact directional derivative along u by forward-mode
AD, theta -= lr ((grad L . u) u + wd theta), one forward pass with tangents instead of two perturbed passes.

`torch.func.jvp` needs the model (a torch.nn.Module) and a tangent u for every trainable tensor at once, so unlike
the finite-difference methods it holds a parameter-sized u during its pass and cannot run on inference-only
processing elements.
"""
import torch
import torch.nn.attention

from .zo import Estimate, ZOOptimizer, register


class _Closure(torch.nn.Module):
    """The loss closure as a module around the model, so that torch.func.functional_call can substitute the
    model's parameters while the closure runs."""

    def __init__(self, model, closure):
        super().__init__()
        self.model, self.closure = model, closure

    def forward(self):
        return self.closure()


@register
class ForwardGrad(ZOOptimizer):
    """Forward gradient over a module's trainable parameters (pass the module, not its parameters)."""
    name = "forward-grad"
    gathers_losses = False
    title = "Forward-Grad"
    paper = "Baydin et al., 2022; ZO-Bench Appendix A"
    reproduces = "ZO-Bench's `forward_grad`: (grad L . u) u as the gradient of torch SGD"
    differences = "none in the update (PyTorch's math attention kernel, which has a forward-mode derivative)"
    arguments = {}

    def __init__(self, model, source, **options):
        if not isinstance(model, torch.nn.Module):
            raise ValueError("method forward-grad needs the model itself (a torch.nn.Module), not its parameters")
        super().__init__(model, source, **options)
        self.model = model

    def estimate(self, closure):
        position = self.source.position
        names = [name for name, _, _ in self.named]
        tangents = tuple(u.clone() for u in self.source.tensors(self.params, position))
        wrapper = _Closure(self.model, closure)

        def loss_at(*tensors):
            return torch.func.functional_call(wrapper, {"model." + name: t for name, t in zip(names, tensors)}, ())

        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):   # the fused kernels lack forward AD
            loss, derivative = torch.func.jvp(loss_at, tuple(self.params), tangents)
        self.source.next(self.values)
        return Estimate(loss.item(), {"loss": loss.item()}, [(position, derivative.item())])

    @classmethod
    def demands(cls, args):
        return {"forwards": "1 (with tangents)", "buffers": "1 (u, during the pass)", "random": "1 d", "replays": 2,
                "inference_only": False}
