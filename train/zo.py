"""The ZO optimizer seam: a step is an estimate (forward passes -> a few scalars) and an update (per tensor).

Every method is a `torch.optim.Optimizer`, so param groups, per-parameter state, `state_dict` and lr schedulers
are torch's own. A step never computes a gradient tensor for the whole model and never stores a perturbation:

    estimate(closure)  ->  Estimate: the losses and the queries (position_i, c_i), meaning g = sum_i c_i u(position_i)
    update(estimate)   ->  for each tensor: g = sum_i c_i u_i with every u_i regenerated from its position, then
                           the method's rule for that tensor (`apply`)

The forward passes perturb the weights in place, as MeZO does: theta += eps u, theta -= 2 eps u, theta += eps u;
with the engine's numerics (train/engine.py) they read theta + s eps u instead, and the update is the engine's.
Weights are perturbed and updated in the order of the optimizer's parameters (a module's trainable
`named_parameters()`), the order in which the perturbation stream covers them (docs/spec.md section 9).
`closure()` evaluates the loss at the current weights without gradients (no backward pass).

Methods register themselves in `METHODS` with their arguments (name -> Argument) and what they demand of
hardware (`demands`), from which the CLI options and docs/methods.md's table are generated.
"""
import argparse
import copy
import dataclasses
import math

import torch

NO_DECAY = ("bias", "layer_norm", "layernorm")
"""MeZO's weight-decay exemption: a parameter whose name contains one of these, case-sensitive. So OPT's
`self_attn_layer_norm` and Llama's `input_layernorm` are exempt, but RoBERTa's `LayerNorm` and Llama's final
`model.norm` are decayed, exactly as in MeZO's code."""
METHODS = {}


def check_hyperparameters(lr, eps, weight_decay):
    """Refuse (ValueError, one line) an lr, eps or weight decay no step can use: allowed finite lr >= 0, eps > 0,
    weight_decay >= 0."""
    for name, value, positive in (("lr", lr, False), ("eps", eps, True), ("weight_decay", weight_decay, False)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not (number and (value > 0 if positive else value >= 0)):
            bound = "> 0" if positive else ">= 0"
            raise ValueError(f"{name}={value!r} is out of range: allowed a finite number {bound}")


class NonFiniteLoss(ArithmeticError):
    """A loss was NaN or infinite; the step was not applied (the weights are back where the step began, up to the
    rounding of the in-place passes, and the source at its position). zo-sgd-block's coordinate updates are the
    exception: blocks updated before the non-finite one keep their update."""


@dataclasses.dataclass(frozen=True)
class Argument:
    """A method's argument: its default, one line of help, and its allowed values (a range or choices)."""
    default: object
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()

    def check(self, method, name, value):
        kind = type(self.default)
        if isinstance(value, bool) != (kind is bool):
            raise ValueError(f"{method} {name}={value!r} is not {kind.__name__}: allowed {self.allowed()}")
        if kind in (int, float) and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{method} {name}={value!r} is not a finite number: allowed {self.allowed()}")
        if kind is int and value != int(value):
            raise ValueError(f"{method} {name}={value!r} is not an integer: allowed {self.allowed()}")
        low = self.minimum is None or value >= self.minimum
        high = self.maximum is None or value <= self.maximum
        if (self.choices and value not in self.choices) or not (low and high):
            raise ValueError(f"{method} {name}={value!r} is out of range: allowed {self.allowed()}")
        return kind(value)

    def parse(self, text):
        """The value a command-line text stands for (true/false for a boolean), checked later by `check`."""
        if isinstance(self.default, bool):
            return {"true": True, "false": False}.get(text.lower(), text)
        try:
            return type(self.default)(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {type(self.default).__name__}: allowed "
                                             f"{self.allowed()}") from None

    def allowed(self):
        if self.choices:
            return ", ".join(map(str, self.choices))
        low = "" if self.minimum is None else f"{self.minimum} <= "
        high = "" if self.maximum is None else f" <= {self.maximum}"
        return f"{low}{type(self.default).__name__}{high}"


@dataclasses.dataclass
class Estimate:
    """One step's losses (name -> float, or a list of floats for several queries) and its queries: the gradient
    estimate is sum_i coefficient_i u(position_i). `loss` is the step's estimate of L(theta): L(theta) where the
    method evaluates it, else the mean of its first query's L+ and L-."""
    loss: float
    losses: dict
    queries: list

    def finite(self):
        values = [self.loss] + [coefficient for _, coefficient in self.queries]
        for value in self.losses.values():
            values.extend(value if isinstance(value, list) else [value])
        return all(map(math.isfinite, values))


def register(cls):
    """Class decorator: put a method into METHODS under its `name`."""
    METHODS[cls.name] = cls
    return cls


def resolved(method, arguments):
    """A method's arguments with its defaults filled in (the arguments unchanged for an unknown method)."""
    if method not in METHODS:
        return dict(arguments)
    return {**{name: argument.default for name, argument in METHODS[method].arguments.items()}, **arguments}


def make(name, params, source, **arguments):
    """The method `name` over `params` (a module or named parameters) fed by `source`."""
    if name not in METHODS:
        raise ValueError(f"method {name!r} is unknown: allowed {', '.join(METHODS)}")
    return METHODS[name](params, source, **arguments)


class ZOOptimizer(torch.optim.Optimizer):
    """Base of every ZO method: the two-point estimate of ZO-SGD and its update (MeZO's operation order).

    opt = pezo.train.ZOSGD(model, pezo.train.source("pezo-otf"), lr=1e-6, eps=1e-3)
    loss = opt.step(lambda: loss_fn(model, batch))       # the step's estimate of L(theta) (Estimate.loss)

    Arguments shared by all methods: lr, weight_decay (per param group; not for names containing one of NO_DECAY,
    MeZO's rule), eps (the perturbation size), and the method's own `arguments`.
    """
    name = None
    title = ""
    paper = ""
    reproduces = ""     # which published run's rule it follows (docs/methods.md)
    differences = ""    # every remaining difference from that run's code
    arguments = {}
    evaluates_loss = False      # the estimate evaluates L(theta) first (one-sided estimates do in any case)
    gathers_losses = True       # the closure's loss may be a plain number (ranks gather it); False: a jvp needs it

    def __init__(self, params, source, lr=1e-6, eps=1e-3, weight_decay=0.0, **arguments):
        check_hyperparameters(lr, eps, weight_decay)
        self.args = self.checked_arguments(arguments)
        if isinstance(params, torch.nn.Module):
            params.eval()                       # the passes must see one function: no dropout
            params = [(name, param) for name, param in params.named_parameters() if param.requires_grad]
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})
        self.source, self.eps = source, eps
        self.index_parameters()
        self.values = sum(param.numel() for param in self.params)
        self.last = None
        self.share = None           # perturbation parallelism (train/distributed.py QueryShare), or None
        self.numerics = None        # the engine's perturb on read and update (train/engine.py), or None: in place

    @classmethod
    def checked_arguments(cls, arguments):
        """The method's arguments: each of `arguments` checked by its Argument, the defaults for the others; a
        ValueError (one line) naming an argument the method does not take or a value it does not allow."""
        unknown = sorted(set(arguments) - set(cls.arguments))
        if unknown:
            raise ValueError(f"method {cls.name} takes no argument {unknown[0]!r}: allowed "
                             f"{', '.join(cls.arguments) or 'none'}")
        return {name: argument.check(cls.name, name, arguments.get(name, argument.default))
                for name, argument in cls.arguments.items()}

    def index_parameters(self):
        """(name, param, group) of every parameter, in order; rebuilt when torch replaces the group dicts."""
        self.named = []
        for group in self.param_groups:
            names = group.get("param_names") or [f"param{len(self.named) + i}" for i in range(len(group["params"]))]
            self.named.extend((name, param, group) for name, param in zip(names, group["params"]))
        self.params = [param for _, param, _ in self.named]

    # -- the step -------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure):
        """One ZO step; raises NonFiniteLoss, with weights restored and the source unmoved, on a NaN/inf loss."""
        before = copy.deepcopy(self.source.state_dict())
        self.begin()
        estimate = self.estimate(closure)
        self.last = estimate
        if not estimate.finite():
            self.source.load_state_dict(before)
            self.end()
            raise NonFiniteLoss(f"non-finite loss: {estimate.losses}")
        self.update(estimate, closure)
        self.end()
        self.state["steps"] = self.steps + 1
        return estimate.loss

    @property
    def steps(self):
        """Steps applied so far (checkpointed with the optimizer's state)."""
        return self.state.get("steps", 0)

    def begin(self):
        """Hook before a step's forward passes (e.g. choose the block, compute masks)."""

    def end(self):
        """Hook after a step (e.g. drop per-step buffers)."""

    def active(self):
        """The (name, param, group) triples this step perturbs and updates: all of them, in order."""
        return self.named

    # -- the estimate ---------------------------------------------------------------------------------------------

    def query_count(self):
        """Queries per step: the `queries` argument, 1 where the method has none."""
        return self.args.get("queries", 1)

    def shares_queries(self):
        """Whether the queries of a step may be evaluated on several ranks (train/distributed.py QueryShare): only
        with the q-query estimate itself."""
        return type(self).estimate is ZOOptimizer.estimate

    def query_scales(self, positions):
        """(scale, weight) of each query, given its position: it perturbs by scale eps u_i and weighs its
        difference quotient by weight. ZO-SGD: (1, 1) for every query."""
        return [(1.0, 1.0)] * len(positions)

    def estimate(self, closure):
        """The q-query estimate: two-sided g_i = (L(theta + s eps u) - L(theta - s eps u)) / (2 eps), or one-sided
        g_i = (L(theta + eps u) - L(theta)) / eps; coefficient g_i w_i / q per query, (s, w) from query_scales."""
        two_sided = self.args.get("estimator", "two-sided") == "two-sided"
        base = closure().detach() if self.evaluates_loss or not two_sided else None
        positions = []
        for _ in range(self.query_count()):
            positions.append(self.source.position)
            self.source.next(self.active_values())
        scales = self.query_scales(positions)
        plus, minus, queries = [], [], []
        for position, (scale, weight), pair in zip(positions, scales, self.query_losses(closure, positions, scales)):
            if two_sided:
                loss_plus, loss_minus = pair
                grad = ((loss_plus - loss_minus) / (2 * self.eps)).item()
                minus.append(loss_minus.item())
            else:
                (loss_plus,) = pair
                grad = ((loss_plus - base) / self.eps).item()
            plus.append(loss_plus.item())
            coefficient = grad * weight
            queries.append((position, coefficient / len(scales) if len(scales) > 1 else coefficient))
        losses = {name: values if len(scales) > 1 else values[0]
                  for name, values in (("loss_plus", plus), ("loss_minus", minus)) if values}
        if base is None:
            return Estimate((plus[0] + minus[0]) / 2, losses, queries)
        return Estimate(base.item(), {"loss": base.item(), **losses}, queries)

    def query_losses(self, closure, positions, scales):
        """Per query, (L+, L-) two-sided or (L+,) one-sided. With `share` (perturbation parallelism, see
        train/distributed.py) this rank evaluates only its own queries and gathers the others'."""
        two_sided = self.args.get("estimator", "two-sided") == "two-sided"
        losses = []
        for query, (position, (scale, _)) in enumerate(zip(positions, scales)):
            # another rank's query: its in-place passes are still made, without evaluating, so that every rank's
            # weights carry the same rounding as one process running all q queries
            mine = self.share is None or self.share.mine(query)
            pair = self.two_point(closure if mine else None, position, scale) if two_sided else (
                self.one_point(closure if mine else None, position),)
            losses.append(pair if mine else None)
        return self.share.gather(losses) if self.share is not None else losses

    def two_point(self, closure, position, scale=1.0):
        """L(theta + scale eps u) and L(theta - scale eps u), leaving theta as it was (up to rounding); with no
        closure, the same passes over the weights without evaluating."""
        if self.numerics is not None:
            return self.numerics.two_point(closure, position)
        self.perturb(position, scale)
        loss_plus = closure().detach() if closure else None
        self.perturb(position, -2 * scale)
        loss_minus = closure().detach() if closure else None
        self.perturb(position, scale)
        return loss_plus, loss_minus

    def one_point(self, closure, position):
        self.perturb(position, 1)
        loss_plus = closure().detach() if closure else None
        self.perturb(position, -1)
        return loss_plus

    def perturb(self, position, scale):
        """theta += scale eps u(position) over the active parameters."""
        active = self.active()
        for (name, param, group), u in zip(active, self.source.tensors([p for _, p, _ in active], position)):
            param.add_(self.direction(param, u).mul_(scale * self.eps))

    def direction(self, param, u):
        """The perturbation of `param` given the source's u (HiZOO scales it, Sparse-MeZO masks it)."""
        return u

    def active_values(self):
        return sum(param.numel() for _, param, _ in self.active())

    # -- the update -----------------------------------------------------------------------------------------------

    def update(self, estimate, closure):
        """Apply the estimate, tensor by tensor (`closure` for methods that evaluate candidate points)."""
        if self.numerics is not None:
            return self.numerics.update(estimate)
        for (name, param, group), grad in self.gradients(estimate.queries):
            self.apply(name, param, group, grad)

    def gradients(self, queries):
        """(name, param, group), g for each active tensor, with g = sum_i c_i u_i (a scratch tensor: the method
        may overwrite it); each u_i is regenerated from its position, one tensor at a time (q queries hold q
        tensor-sized pieces at once, never a parameter-sized buffer)."""
        active = self.active()
        params = [param for _, param, _ in active]
        streams = [self.source.tensors(params, position) for position, _ in queries]
        for triple, pieces in zip(active, zip(*streams)):
            grad = self.direction(triple[1], pieces[0]).mul_(queries[0][1])
            for u, (_, coefficient) in zip(pieces[1:], queries[1:]):
                grad.add_(self.direction(triple[1], u).mul_(coefficient))
            yield triple, grad

    def decay(self, name, group):
        """The weight decay of a parameter: its group's, except 0 where its name contains one of NO_DECAY (MeZO's
        rule, by name, not by module type)."""
        return 0.0 if any(word in name for word in NO_DECAY) else group["weight_decay"]

    def apply(self, name, param, group, grad):
        """ZO-SGD: theta -= lr (g + wd theta), in MeZO's operation order."""
        decay = self.decay(name, group)
        if decay:
            grad.add_(param * decay)
        param.sub_(grad.mul_(group["lr"]))

    # -- checkpoints ----------------------------------------------------------------------------------------------

    def state_dict(self):
        """torch's optimizer state (per-parameter buffers, groups, step count) plus the source's position."""
        return {**super().state_dict(), "source": self.source.state_dict()}

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        if "source" not in state_dict:
            raise ValueError("optimizer state has no 'source' (the perturbation position): not a pezo ZO checkpoint")
        source = state_dict.pop("source")
        super().load_state_dict(state_dict)
        self.source.load_state_dict(source)
        self.index_parameters()

    # -- what the method demands of hardware ----------------------------------------------------------------------

    @classmethod
    def demands(cls, args):
        """Per step: forward passes, parameter-sized buffers kept between steps, random values drawn (d = trainable
        values), replays of one perturbation (passes that regenerate it), and whether inference-only processing
        elements suffice."""
        queries = args.get("queries", 1)
        two_sided = args.get("estimator", "two-sided") == "two-sided"
        return {"forwards": 2 * queries if two_sided else queries + 1, "buffers": 0, "random": f"{queries} d",
                "replays": 4 if two_sided else 3, "inference_only": True}
