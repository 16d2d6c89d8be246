"""Every ZO method against a literal, independent restatement of its rule (docs/methods.md) on a tiny model: the
weights are bit-identical after several steps. The restatements draw u the way each source is specified (MeZO's
torch.manual_seed for gaussian, the golden Stream for PeZO), not through pezo.train.perturbations."""
import math

import numpy as np
import pytest
import torch

import pezo.train as zo
from pezo.golden import OtfSpec, PoolSpec, Stream, words_per_perturbation

EPS, STEPS, SEED = 1e-2, 4, 7
SPECS = {"pezo-otf": OtfSpec(generators=7, width=5), "pezo-pool": PoolSpec(size=63, bits=6, lanes=3)}


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj, self.v_proj, self.norm = torch.nn.Linear(6, 6), torch.nn.Linear(6, 6), torch.nn.LayerNorm(6)

    def forward(self, x):
        return self.norm(x + torch.tanh(self.q_proj(x)) * self.v_proj(x))


class Tiny(torch.nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.layers = torch.nn.ModuleList([Block(), Block()])
        self.head = torch.nn.Linear(6, 3)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def batch(step):
    generator = torch.Generator().manual_seed(100 + step)
    return torch.randn(8, 6, generator=generator), torch.randint(0, 3, (8,), generator=generator)


def loss_of(model, step):
    inputs, labels = batch(step)
    return torch.nn.functional.cross_entropy(model(inputs), labels)


class ReferenceU:
    """Successive perturbations of a source, as its specification states them."""

    def __init__(self, kind):
        self.kind = kind
        self.rng = np.random.RandomState(SEED)
        self.stream = Stream(SPECS[kind]) if kind in SPECS else None
        self.start = 0

    def open(self):
        """Move on to the next perturbation; `position` becomes its seed or start word."""
        self.position = self.rng.randint(1_000_000_000) if self.stream is None else self.start

    def draw(self, params):
        """u for `params` (a list of tensors) from the current perturbation's first value."""
        if self.stream is None:
            torch.manual_seed(self.position)
            return [torch.normal(mean=0, std=1, size=p.size(), dtype=p.dtype) for p in params]
        flat = self.stream.perturbation(self.position, sum(p.numel() for p in params))
        return [piece.view(p.shape) for piece, p in zip(torch.split(flat, [p.numel() for p in params]), params)]

    def close(self, values):
        """After a perturbation of `values` values the next one starts on the following word."""
        if self.stream is not None:
            self.start = self.position + words_per_perturbation(self.stream.spec, values)

    def take(self, params):
        """u for `params` of the next perturbation."""
        self.open()
        us = self.draw(params)
        self.close(sum(p.numel() for p in params))
        return us


def run_pezo(method, kind, steps=STEPS, **options):
    model = Tiny()
    optimizer = zo.make(method, model, zo.source(kind, seed=SEED, spec=SPECS.get(kind)), eps=EPS, **options)
    losses = [optimizer.step(lambda: loss_of(model, step)) for step in range(steps)]
    return model, losses


def params_of(model):
    return [p for p in model.parameters() if p.requires_grad]


def names_of(model):
    return [n for n, p in model.named_parameters() if p.requires_grad]


def perturb(params, us, scale):
    for p, u in zip(params, us):
        p.data = p.data + scale * u * EPS


def two_point(model, params, us, step):
    """MeZO's +eps, -2 eps, +eps passes; returns (L+, L-)."""
    perturb(params, us, 1)
    plus = loss_of(model, step)
    perturb(params, us, -2)
    minus = loss_of(model, step)
    perturb(params, us, 1)
    return plus, minus


def mezo_step(model, params, us, step, lr):
    """MeZO's passes, then theta -= lr (u g) with g = (L+ - L-) / (2 eps)."""
    plus, minus = two_point(model, params, us, step)
    g = ((plus - minus) / (2 * EPS)).item()
    for p, u in zip(params, us):
        p.data = p.data - lr * (u * g)


def decay_of(name, wd):
    return 0.0 if any(word in name for word in ("bias", "layer_norm", "layernorm")) else wd


# -- the restatements: each returns the model after STEPS steps --------------------------------------------------

def reference_zo_sgd(kind, lr, wd=0.0, queries=1, estimator="two-sided", sign=None):
    model, source = Tiny(), ReferenceU(kind)
    params, names = params_of(model), names_of(model)
    with torch.no_grad():
        for step in range(STEPS):
            base = loss_of(model, step) if estimator == "one-sided" else None
            draws, grads = [], []
            for _ in range(queries):
                us = source.take(params)
                if estimator == "two-sided":
                    plus, minus = two_point(model, params, us, step)
                    g = ((plus - minus) / (2 * EPS)).item()
                else:
                    perturb(params, us, 1)
                    plus = loss_of(model, step)
                    perturb(params, us, -1)
                    g = ((plus - base) / EPS).item()
                draws.append(us)
                grads.append(g / queries if queries > 1 else g)
            if sign == "projected":
                share = 1.0 / queries if queries > 1 else 1.0
                grads = [math.copysign(share, g) if g else 0.0 for g in grads]
            for index, (name, p) in enumerate(zip(names, params)):
                estimate = draws[0][index] * grads[0]
                for us, g in zip(draws[1:], grads[1:]):
                    estimate = estimate + us[index] * g
                if sign == "element":
                    estimate = torch.sign(estimate)
                p.data = p.data - lr * (estimate + decay_of(name, wd) * p.data)
    return model


def reference_momentum(kind, lr, beta):
    model, source = Tiny(), ReferenceU(kind)
    params, buffers = params_of(model), {}
    with torch.no_grad():
        for step in range(STEPS):
            us = source.take(params)
            plus, minus = two_point(model, params, us, step)
            g = ((plus - minus) / (2 * EPS)).item()
            for index, p in enumerate(params):
                estimate = us[index] * g
                buffers[index] = estimate if index not in buffers else buffers[index] * beta + estimate
                p.data = p.data.add(buffers[index], alpha=-lr)
    return model


def reference_adam(kind, lr):
    """ZO-Adam is torch.optim.Adam fed with g_hat as the gradient."""
    model, source = Tiny(), ReferenceU(kind)
    params = params_of(model)
    adam = torch.optim.Adam(params, lr=lr, foreach=False)
    for step in range(STEPS):
        with torch.no_grad():
            us = source.take(params)
            plus, minus = two_point(model, params, us, step)
            g = ((plus - minus) / (2 * EPS)).item()
        for p, u in zip(params, us):
            p.grad = u * g
        adam.step()
    return model


def reference_cons(kind, lr):
    model, source = Tiny(), ReferenceU(kind)
    params = params_of(model)
    with torch.no_grad():
        for step in range(STEPS):
            theta = loss_of(model, step).item()
            us = source.take(params)
            plus, minus = two_point(model, params, us, step)
            g = ((plus - minus) / (2 * EPS)).item()
            for p, u in zip(params, us):
                p.data = p.data + (u * g) * (-1.0 * lr)
            down = loss_of(model, step).item()
            for p, u in zip(params, us):
                p.data = p.data + (u * g) * (2.0 * lr)
            up = loss_of(model, step).item()
            keep = ("theta" if theta < up else "up") if down > theta else ("down" if down < up else "up")
            back = {"theta": -1.0, "down": -2.0, "up": None}[keep]
            if back is not None:
                for p, u in zip(params, us):
                    p.data = p.data + (u * g) * (back * lr)
    return model


def tiny_blocks(model, level):
    """Indices of Tiny's blocks: its two layers and its head (layer), or each of its modules (module)."""
    names = names_of(model)
    if level == "layer":
        prefixes = ["layers.0.", "layers.1.", "head."]
    else:
        prefixes = [f"layers.{i}.{m}." for i in range(2) for m in ("q_proj", "v_proj", "norm")] + ["head."]
    return [[i for i, n in enumerate(names) if n.startswith(prefix)] for prefix in prefixes]


def reference_block_cycle(kind, lr):
    """Step t: ZO-SGD on block t mod B alone."""
    model, source = Tiny(), ReferenceU(kind)
    blocks = tiny_blocks(model, "layer")
    with torch.no_grad():
        for step in range(STEPS):
            params = [params_of(model)[i] for i in blocks[step % len(blocks)]]
            us = source.take(params)
            mezo_step(model, params, us, step, lr)
    return model


def reference_block_all(kind, lr, level, coordinate):
    """ZO-Bench's block-wise step: one seed per step, every block's z drawn afresh from it; each block's two passes,
    then (coordinate) its update at once, or all updates after the last block."""
    model, source = Tiny(), ReferenceU(kind)
    blocks = tiny_blocks(model, level)
    with torch.no_grad():
        for step in range(STEPS):
            source.open()
            later = []
            for block in blocks:
                params = [params_of(model)[i] for i in block]
                us = source.draw(params)
                plus, minus = two_point(model, params, us, step)
                g = ((plus - minus) / (2 * EPS)).item()
                later.append((params, us, g))
                if coordinate:
                    for p, u in zip(params, us):
                        p.data = p.data - lr * (u * g)
            if not coordinate:
                for params, us, g in later:
                    for p, u in zip(params, us):
                        p.data = p.data - lr * (u * g)
            source.close(max(sum(params_of(model)[i].numel() for i in block) for block in blocks))
    return model


def reference_sparse_mezo(kind, lr, sparsity, wd=0.0):
    """Thresholds from the starting weights (the k-th smallest magnitude, k = ceil((1 - sparsity) n); a tensor of
    equal magnitudes is kept whole); each step the mask |theta| <= h, on u, the update and the decay."""
    model, source = Tiny(), ReferenceU(kind)
    params, names = params_of(model), names_of(model)
    thresholds = []
    for p in params:
        ordered = p.abs().flatten().sort().values
        k = math.ceil(round((1 - sparsity) * p.numel(), 9))
        whole = k == p.numel() or bool((ordered == ordered[0]).all())
        thresholds.append(math.inf if whole else ordered[k - 1].item())
    with torch.no_grad():
        for step in range(STEPS):
            masks = [p.abs() <= h for p, h in zip(params, thresholds)]
            us = [u * m for u, m in zip(source.take(params), masks)]
            plus, minus = two_point(model, params, us, step)
            g = ((plus - minus) / (2 * EPS)).item()
            for name, p, u, m in zip(names, params, us, masks):
                p.data = p.data - lr * (u * g + (p.data * m) * decay_of(name, wd))
    return model


def reference_zo_sgd_sparse(kind, lr, sparsity, group, draw, resample):
    """ZO-Bench's gradient sparsity: per-tensor ratios (global: the share of |theta| <= the sparsity quantile of all
    |theta|; layer: sparsity), then each step a weight is left out where a fresh draw is below its tensor's ratio,
    the draws seeded per window of `resample` steps; ZO-SGD on the masked u."""
    model, source = Tiny(), ReferenceU(kind)
    params = params_of(model)
    cut = torch.quantile(torch.cat([p.detach().abs().flatten() for p in params]), sparsity).item()
    ratios = [sparsity if group == "layer" else int((p.abs() <= cut).sum()) / p.numel() for p in params]
    with torch.no_grad():
        for step in range(STEPS):
            seed = int(np.random.SeedSequence([0, step // resample]).generate_state(1)[0])
            generator = torch.Generator().manual_seed(seed)
            sample = torch.randn if draw == "normal" else torch.rand
            masks = [~(sample(p.shape, generator=generator) < r) for p, r in zip(params, ratios)]
            us = [u * m for u, m in zip(source.take(params), masks)]
            mezo_step(model, params, us, step, lr)
    return model


def reference_hizoo(kind, lr, alpha):
    model, source = Tiny(), ReferenceU(kind)
    params = params_of(model)
    hessians = [torch.ones_like(p) for p in params]
    with torch.no_grad():
        for step in range(STEPS):
            base = loss_of(model, step).item()
            us = source.take(params)
            shaped = [u * torch.rsqrt(h) for u, h in zip(us, hessians)]
            plus, minus = two_point(model, params, shaped, step)
            g = ((plus - minus) / (2 * EPS)).item()
            curvature = abs(plus.item() + minus.item() - 2 * base) / (2 * EPS ** 2)
            for i, (p, u) in enumerate(zip(params, us)):
                hessians[i] = hessians[i] * (1 - alpha) + hessians[i] * u ** 2 * (alpha * curvature)
                p.data = p.data - lr * (u * torch.rsqrt(hessians[i]) * g)
    return model


def reference_kerzoo(kind, lr, queries):
    model, source = Tiny(), ReferenceU(kind)
    params = params_of(model)
    with torch.no_grad():
        for step in range(STEPS):
            draws, grads = [], []
            for _ in range(queries):
                us = source.take(params)
                r = np.random.default_rng([0, int(source.position)]).uniform(-1.0, 1.0)
                losses = []
                for scale in (r, -2 * r, r):                    # theta +- (r eps) u, then back
                    for p, u in zip(params, us):
                        p.data = p.data + u * (scale * EPS)
                    losses.append(loss_of(model, step))
                plus, minus = losses[0], losses[1]
                kernel = 15 / 4 * r * (5 - 7 * r ** 2)
                draws.append(us)
                grads.append(((plus - minus) / (2 * EPS)).item() * kernel / queries)
            for index, p in enumerate(params):
                estimate = draws[0][index] * grads[0]
                for us, g in zip(draws[1:], grads[1:]):
                    estimate = estimate + us[index] * g
                p.data = p.data - lr * estimate
    return model


def reference_dizo(kind, lr, interval, iterations, tau, gamma_eps, gamma_lr, projection="gamma"):
    """DiZO on the q_proj and v_proj weights (not their biases). gamma: the official code's round, on the distance
    gamma from t = ||theta - theta_0|| with z clipped to +-(tau / eps') t; ratio: the same on gamma / t, from 1,
    z unclipped."""
    model, source = Tiny(), ReferenceU(kind)
    params, names = params_of(model), names_of(model)
    projected = [p for n, p in zip(names, params)
                 if n.endswith(".weight") and {"q_proj", "v_proj"} & set(n.split("."))]
    anchors = [p.detach().clone() for p in projected]
    with torch.no_grad():
        for step in range(STEPS):
            us = source.take(params)
            mezo_step(model, params, us, step, lr)
            if (step + 1) % interval:
                continue
            t = [torch.norm((p - a).double()).item() for p, a in zip(projected, anchors)]
            one = t if projection == "gamma" else [1.0] * len(t)

            def factor(value, t_l):
                return value / (t_l + 1e-8) if projection == "gamma" else value
            values = list(one)
            for _ in range(iterations):
                z = source.take([torch.empty(len(projected))])[0].double().tolist()
                if projection == "gamma":
                    z = [min(max(z_l, -(tau / gamma_eps) * t_l), (tau / gamma_eps) * t_l) for z_l, t_l in zip(z, t)]
                losses = []
                for sign in (1, -1):
                    saved = [p.data for p in projected]
                    for p, a, v, z_l, t_l in zip(projected, anchors, values, z, t):
                        p.data = a + factor(v + sign * gamma_eps * z_l, t_l) * (p.data - a)
                    losses.append(loss_of(model, step).item())
                    for p, s in zip(projected, saved):
                        p.data = s
                c = (losses[0] - losses[1]) / (2 * gamma_eps)
                values = [min(max(v - gamma_lr * u * c * z_l, (1 - tau) * u), (1 + tau) * u)
                          for v, u, z_l in zip(values, one, z)]
            for p, a, v, t_l in zip(projected, anchors, values, t):
                p.data = a + factor(v, t_l) * (p.data - a)
    return model


DIZO = {"lr": 0.05, "interval": 2, "iterations": 3, "tau": 0.2, "gamma_eps": 0.1, "gamma_lr": 2.0}
CASES = {
    "zo-sgd q=2 one-sided wd": (("zo-sgd", {"lr": 0.05, "weight_decay": 0.1, "queries": 2, "estimator": "one-sided"}),
                                lambda kind: reference_zo_sgd(kind, 0.05, 0.1, 2, "one-sided")),
    "zo-sgd q=3": (("zo-sgd", {"lr": 0.05, "queries": 3}), lambda kind: reference_zo_sgd(kind, 0.05, queries=3)),
    "zo-sgd-sign (projected)": (("zo-sgd-sign", {"lr": 0.01}),
                                lambda kind: reference_zo_sgd(kind, 0.01, sign="projected")),
    "zo-sgd-sign element": (("zo-sgd-sign", {"lr": 0.01, "sign": "element"}),
                            lambda kind: reference_zo_sgd(kind, 0.01, sign="element")),
    "zo-sgd-sign projected q=2": (("zo-sgd-sign", {"lr": 0.01, "sign": "projected", "queries": 2}),
                                  lambda kind: reference_zo_sgd(kind, 0.01, queries=2, sign="projected")),
    "zo-sgd-mmt": (("zo-sgd-mmt", {"lr": 0.05, "momentum": 0.8}), lambda kind: reference_momentum(kind, 0.05, 0.8)),
    "zo-adam": (("zo-adam", {"lr": 0.01}), lambda kind: reference_adam(kind, 0.01)),
    "zo-sgd-cons": (("zo-sgd-cons", {"lr": 0.5}), lambda kind: reference_cons(kind, 0.5)),
    "zo-sgd-block (all, coordinate)": (("zo-sgd-block", {"lr": 0.05}),
                                       lambda kind: reference_block_all(kind, 0.05, "layer", True)),
    "zo-sgd-block all, modules, at the end": (
        ("zo-sgd-block", {"lr": 0.05, "blocks": "module", "coordinate": False}),
        lambda kind: reference_block_all(kind, 0.05, "module", False)),
    "zo-sgd-block cycle": (("zo-sgd-block", {"lr": 0.05, "cycle": True}),
                           lambda kind: reference_block_cycle(kind, 0.05)),
    "sparse-mezo": (("sparse-mezo", {"lr": 0.05, "sparsity": 0.7}), lambda kind: reference_sparse_mezo(kind, 0.05, 0.7)),
    "sparse-mezo wd": (("sparse-mezo", {"lr": 0.05, "sparsity": 0.5, "weight_decay": 0.1}),
                       lambda kind: reference_sparse_mezo(kind, 0.05, 0.5, 0.1)),
    "zo-sgd-sparse (global, normal)": (("zo-sgd-sparse", {"lr": 0.05, "sparsity": 0.3}),
                                       lambda kind: reference_zo_sgd_sparse(kind, 0.05, 0.3, "global", "normal", 1)),
    "zo-sgd-sparse layer, uniform, resample 2": (
        ("zo-sgd-sparse", {"lr": 0.05, "sparsity": 0.4, "group": "layer", "draw": "uniform", "resample": 2}),
        lambda kind: reference_zo_sgd_sparse(kind, 0.05, 0.4, "layer", "uniform", 2)),
    "hizoo": (("hizoo", {"lr": 0.05, "alpha": 0.3}), lambda kind: reference_hizoo(kind, 0.05, 0.3)),
    "kerzoo q=2": (("kerzoo", {"lr": 0.05, "queries": 2}), lambda kind: reference_kerzoo(kind, 0.05, 2)),
    "dizo (gamma)": (("dizo", DIZO), lambda kind: reference_dizo(kind, **DIZO)),
    "dizo ratio": (("dizo", {**DIZO, "projection": "ratio"}), lambda kind: reference_dizo(kind, **DIZO, projection="ratio")),
}


@pytest.mark.parametrize("kind", ["gaussian", "pezo-otf", "pezo-pool"])
@pytest.mark.parametrize("case", list(CASES))
def test_method_equals_its_literal_rule(case, kind):
    (method, options), reference = CASES[case]
    ours, _ = run_pezo(method, kind, **options)
    expected = reference(kind)
    for (name, a), b in zip(ours.named_parameters(), expected.parameters()):
        assert torch.equal(a, b), name
    assert not torch.equal(ours.head.weight, Tiny().head.weight)


def test_cons_keeps_the_best_point():
    model = Tiny()
    optimizer = zo.make("zo-sgd-cons", model, zo.source("gaussian", seed=SEED), lr=0.5, eps=EPS)
    for step in range(STEPS):
        optimizer.step(lambda: loss_of(model, step))
        losses = optimizer.last.losses
        kept = {"theta": losses["loss"], "down": losses["loss_down"], "up": losses["loss_up"]}[losses["kept"]]
        assert kept == min(losses["loss"], losses["loss_down"], losses["loss_up"])


def test_forward_grad_is_the_directional_derivative():
    """jvp against reverse-mode AD: both are exact derivatives, rounded differently, so 1e-5 relative."""
    model, source = Tiny(), zo.source("pezo-otf", spec=SPECS["pezo-otf"])
    params = params_of(model)
    us = [u.clone() for u in source.tensors(params)]
    grads = torch.autograd.grad(loss_of(model, 0), params)
    expected = sum((g * u).sum() for g, u in zip(grads, us)).item()
    optimizer = zo.make("forward-grad", model, source, lr=0.1)
    before = [p.detach().clone() for p in params]
    optimizer.step(lambda: loss_of(model, 0))
    (_, derivative), = optimizer.last.queries
    assert derivative == pytest.approx(expected, rel=1e-5)
    for p, old, u in zip(params, before, us):
        assert torch.equal(p, old - (u * derivative) * 0.1)


def test_hizoo_with_alpha_zero_is_zo_sgd():
    a, _ = run_pezo("hizoo", "pezo-otf", lr=0.05, alpha=0.0)
    b, _ = run_pezo("zo-sgd", "pezo-otf", lr=0.05)
    for x, y in zip(a.parameters(), b.parameters()):
        assert torch.equal(x, y)


# -- every method with every source, resume, errors ---------------------------------------------------------------

LEARNING = {"zo-sgd": 0.05, "zo-sgd-sign": 0.002, "zo-sgd-mmt": 0.005, "zo-adam": 0.01, "zo-sgd-cons": 0.05,
            "zo-sgd-block": 0.05, "sparse-mezo": 0.05, "zo-sgd-sparse": 0.05, "dizo": 0.05, "forward-grad": 0.05, "hizoo": 0.05,
            "kerzoo": 0.005}
EXTRA = {"dizo": {"interval": 2, "iterations": 2}, "hizoo": {"alpha": 0.1}, "kerzoo": {"queries": 4}}


@pytest.fixture(scope="module")
def manifest_spec(tmp_path_factory):
    from pezo.hw.export import export, load_manifest
    return load_manifest(export(OtfSpec(generators=7, width=8), tmp_path_factory.mktemp("build") / "rtl"))


def source_named(kind, manifest_spec):
    if kind == "manifest":
        return zo.perturbations.for_spec(manifest_spec)
    spec = {"uniform-raw": OtfSpec(generators=7, width=5), **SPECS}.get(kind)
    return zo.source(kind, seed=SEED, spec=spec)


def optimizer_for(method, model, kind, manifest_spec):
    lr = LEARNING[method] / (100 if kind == "uniform-raw" else 1)
    return zo.make(method, model, source_named(kind, manifest_spec), lr=lr, eps=EPS, **EXTRA.get(method, {}))


ALL_SOURCES = list(zo.SOURCES) + ["manifest"]


def test_every_method_is_tested():
    assert set(LEARNING) == set(zo.METHODS) == {method for (method, _), _ in CASES.values()} | {"forward-grad"}


@pytest.mark.parametrize("kind", ALL_SOURCES)
@pytest.mark.parametrize("method", list(LEARNING))
def test_every_method_trains_with_every_source(method, kind, manifest_spec):
    """On one fixed batch, 60 steps lower the loss and move the weights; everything stays finite."""
    model = Tiny()
    optimizer = optimizer_for(method, model, kind, manifest_spec)
    first = loss_of(model, 0).item()
    for _ in range(60):
        optimizer.step(lambda: loss_of(model, 0))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(model.head.weight, Tiny().head.weight)
    assert loss_of(model, 0).item() < first


@pytest.mark.parametrize("kind", ALL_SOURCES)
@pytest.mark.parametrize("method", list(LEARNING))
def test_resume_is_bit_identical(method, kind, manifest_spec, tmp_path):
    """4 steps straight equal 2 steps, a checkpoint through a file, a fresh model and optimizer, and 2 more."""
    whole = Tiny()
    straight = optimizer_for(method, whole, kind, manifest_spec)
    for step in range(4):
        straight.step(lambda: loss_of(whole, step))
    first = Tiny()
    optimizer = optimizer_for(method, first, kind, manifest_spec)
    for step in range(2):
        optimizer.step(lambda: loss_of(first, step))
    torch.save({"weights": first.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "checkpoint.pt")
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    second = Tiny(seed=1)
    resumed = optimizer_for(method, second, kind, manifest_spec)
    second.load_state_dict(saved["weights"])
    resumed.load_state_dict(saved["optimizer"])
    for step in range(2, 4):
        resumed.step(lambda: loss_of(second, step))
    for (name, a), b in zip(whole.named_parameters(), second.parameters()):
        assert torch.equal(a, b), name
    assert straight.steps == resumed.steps == 4
    assert straight.source.state_dict() == resumed.source.state_dict()


@pytest.mark.parametrize("method, options, message", [
    ("zo-lbfgs", {}, "method 'zo-lbfgs' is unknown: allowed zo-sgd, zo-sgd-sign"),
    ("zo-sgd", {"momentum": 0.9}, "method zo-sgd takes no argument 'momentum': allowed queries, estimator"),
    ("zo-sgd", {"queries": 0}, "zo-sgd queries=0 is out of range: allowed 1 <= int <= 1024"),
    ("zo-sgd", {"queries": 2.5}, "zo-sgd queries=2.5 is not an integer"),
    ("zo-sgd", {"estimator": "three-sided"}, "estimator='three-sided' is out of range: allowed two-sided, one-sided"),
    ("zo-adam", {"beta1": "high"}, "zo-adam beta1='high' is not a finite number"),
    ("zo-sgd", {"queries": float("inf")}, "zo-sgd queries=inf is not a finite number"),
    ("zo-adam", {"amsgrad": 1}, "zo-adam amsgrad=1 is not bool: allowed False, True"),
    ("sparse-mezo", {"sparsity": 1.0}, "sparse-mezo sparsity=1.0 is out of range"),
    ("zo-sgd-block", {"queries": 2}, "method zo-sgd-block takes queries 1 and the two-sided estimator with every"),
    ("zo-sgd-cons", {"weight_decay": 0.1}, "method zo-sgd-cons takes weight_decay 0"),
    ("dizo", {"targets": "k_proj"}, "method dizo found no trainable weight named by targets='k_proj'"),
    ("zo-sgd", {"lr": -1.0}, "lr=-1.0 is out of range: allowed a finite number >= 0"),
])
def test_bad_arguments_name_the_value_and_what_is_allowed(method, options, message):
    with pytest.raises(ValueError) as error:
        zo.make(method, Tiny(), zo.source("gaussian"), **options)
    assert message in str(error.value)


def test_forward_grad_needs_the_module():
    with pytest.raises(ValueError, match="forward-grad needs the model itself"):
        zo.make("forward-grad", list(Tiny().named_parameters()), zo.source("gaussian"))


def test_methods_doc_holds_the_generated_tables():
    from pathlib import Path
    from pezo.train import catalogue
    assert catalogue.markdown() in (Path(__file__).parents[1] / "docs" / "methods.md").read_text()


@pytest.mark.parametrize("method", ["zo-sgd", "zo-adam", "zo-sgd-cons"])
def test_resume_follows_the_lr_schedule(method, tmp_path):
    """A linear schedule restored with the optimizer drives the resumed updates (torch replaces the group dicts)."""
    def build(model):
        optimizer = zo.make(method, model, zo.source("pezo-otf", spec=SPECS["pezo-otf"]), lr=0.05, eps=EPS)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1 - t / 4)

    whole = Tiny()
    optimizer, schedule = build(whole)
    for step in range(4):
        optimizer.step(lambda: loss_of(whole, step))
        schedule.step()
    first = Tiny()
    optimizer, schedule = build(first)
    for step in range(2):
        optimizer.step(lambda: loss_of(first, step))
        schedule.step()
    torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "weights": first.state_dict()}, tmp_path / "checkpoint.pt")
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    second = Tiny(seed=1)
    optimizer, schedule = build(second)
    second.load_state_dict(saved["weights"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    for step in range(2, 4):
        optimizer.step(lambda: loss_of(second, step))
        schedule.step()
    for a, b in zip(whole.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_cons_never_keeps_a_non_finite_point():
    model = Tiny()
    optimizer = zo.make("zo-sgd-cons", model, zo.source("gaussian", seed=SEED), lr=0.5, eps=EPS)
    calls = []

    def closure():          # L0, L+, L-, then L_down finite and better, L_up NaN
        calls.append(len(calls))
        return torch.tensor([1.0, 1.2, 0.8, 0.5, float("nan")][len(calls) - 1])
    optimizer.step(closure)
    assert optimizer.last.losses["kept"] == "down"


def test_sparse_mezo_ties_are_kept_whole_and_sparsity_zero_is_zo_sgd():
    """A tensor of equal magnitudes (LayerNorm gains 1, zero biases, LoRA's B = 0) has no magnitude order and is
    perturbed whole; entries of other tensors are kept by the threshold of the starting weights."""
    model = Tiny()
    with torch.no_grad():
        model.head.bias.zero_()
    optimizer = zo.make("sparse-mezo", model, zo.source("gaussian", seed=SEED), lr=0.05, eps=EPS, sparsity=0.75)
    optimizer.step(lambda: loss_of(model, 0))
    masks = {name: optimizer.state[param]["threshold"] for name, param in model.named_parameters()}
    for name in ("head.bias", "layers.0.norm.weight", "layers.0.norm.bias"):
        assert masks[name].item() == math.inf, name
    assert (Tiny().layers[0].q_proj.weight.abs() <= masks["layers.0.q_proj.weight"]).sum() == 9     # ceil(0.25 * 36)
    assert 0 < optimizer.last.losses["density"] < 1
    a, _ = run_pezo("sparse-mezo", "pezo-otf", lr=0.05, sparsity=0.0)
    b, _ = run_pezo("zo-sgd", "pezo-otf", lr=0.05)
    for x, y in zip(a.parameters(), b.parameters()):
        assert torch.equal(x, y)


@pytest.mark.parametrize("draw, ratio, share", [("normal", 0.0, 0.5), ("normal", 0.5, 0.6915), ("uniform", 0.3, 0.3)])
def test_zo_sgd_sparse_leaves_out_phi_of_the_ratio_with_normal_draws(draw, ratio, share):
    """ZO-Bench's rule compares a N(0, 1) draw with the ratio, so it leaves out Phi(ratio), not the ratio."""
    model = torch.nn.Linear(400, 100)
    optimizer = zo.make("zo-sgd-sparse", model, zo.source("gaussian"), sparsity=ratio, group="layer", draw=draw)
    optimizer.begin()
    left_out = 1 - optimizer.masks[model.weight].float().mean().item()
    assert left_out == pytest.approx(share, abs=0.01)          # 40,000 draws: SE 0.0025


def test_zo_sgd_sparse_masks_change_every_resample_steps_only():
    model = Tiny()
    optimizer = zo.make("zo-sgd-sparse", model, zo.source("gaussian"), lr=0.05, eps=EPS, resample=2)
    masks = []
    for step in range(4):
        optimizer.begin()
        masks.append(optimizer.masks[model.head.weight].clone())
        optimizer.end()
        optimizer.state["steps"] = step + 1
    assert torch.equal(masks[0], masks[1]) and torch.equal(masks[2], masks[3])
    assert not torch.equal(masks[1], masks[2])


def test_kerzoo_radius_is_found_from_the_query_position():
    from pezo.train.kerzoo import kernel, radius
    model = Tiny()
    optimizer = zo.make("kerzoo", model, zo.source("pezo-otf", spec=SPECS["pezo-otf"]), lr=0.05, eps=EPS, queries=3)
    optimizer.step(lambda: loss_of(model, 0))
    losses = optimizer.last.losses
    for (position, coefficient), plus, minus in zip(optimizer.last.queries, losses["loss_plus"], losses["loss_minus"]):
        expected = (plus - minus) / (2 * EPS) * kernel(radius(0, position)) / 3     # float32 losses: 1e-4
        assert coefficient == pytest.approx(expected, rel=1e-4)
