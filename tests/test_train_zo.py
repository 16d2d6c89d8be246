"""ZOSGD: bit-identical to a literal re-statement of MeZO's step in gaussian mode; replay and leftover shifting of
the golden stream in PeZO mode; everything in place."""
import numpy as np
import pytest
import torch

from pezo.golden import OtfSpec, PoolSpec, Stream, words_per_perturbation
from pezo.train import perturbations
from pezo.train import NonFiniteLoss, ZOSGD


def tiny_model(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.LayerNorm(7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    model[1].weight.requires_grad_(False)          # frozen parameters are skipped, as in MeZO
    return model


def batch(seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(8, 5, generator=generator), torch.randint(0, 3, (8,), generator=generator)


def loss_fn(model):
    return lambda b: torch.nn.functional.cross_entropy(model(b[0]), b[1])


def mezo_reference_step(model, seed, lr, eps, weight_decay, data):
    """MeZO's step, written out literally (its public trainer, restated): seed from numpy, perturb, two losses,
    perturb back, projected gradient, regenerate z and update."""
    params = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
    step_seed = np.random.RandomState(seed).randint(1_000_000_000)

    def perturb(scaling_factor):
        torch.manual_seed(step_seed)
        for _, param in params:
            z = torch.normal(mean=0, std=1, size=param.data.size(), device=param.data.device, dtype=param.data.dtype)
            param.data = param.data + scaling_factor * z * eps

    with torch.no_grad():
        perturb(1)
        loss1 = loss_fn(model)(data)
        perturb(-2)
        loss2 = loss_fn(model)(data)
        perturb(1)
        projected_grad = ((loss1 - loss2) / (2 * eps)).item()
        torch.manual_seed(step_seed)
        for name, param in params:
            z = torch.normal(mean=0, std=1, size=param.data.size(), device=param.data.device, dtype=param.data.dtype)
            if "bias" not in name and "layer_norm" not in name and "layernorm" not in name:
                param.data = param.data - lr * (projected_grad * z + weight_decay * param.data)
            else:
                param.data = param.data - lr * (projected_grad * z)
    return loss1.item()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("seed", [0, 12345])
def test_gaussian_step_is_bit_identical_to_mezo(seed, weight_decay):
    ours, reference = tiny_model(), tiny_model()
    zo = ZOSGD(ours, perturbations.make("gaussian", seed=seed), lr=1e-2, eps=1e-3, weight_decay=weight_decay)
    zo.step(lambda: loss_fn(ours)(batch()))
    expected_loss = mezo_reference_step(reference, seed, 1e-2, 1e-3, weight_decay, batch())
    assert zo.last.losses["loss_plus"] == expected_loss
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters()):
        assert torch.equal(a, b), name
    assert not torch.equal(ours[0].weight, tiny_model()[0].weight)


def test_step_is_in_place_and_skips_frozen_parameters():
    model = tiny_model()
    pointers = [param.data_ptr() for param in model.parameters()]
    frozen = model[1].weight.clone()
    zo = ZOSGD(model, perturbations.make("pezo-otf"), lr=1e-2)
    zo.step(lambda: loss_fn(model)(batch()))
    assert [param.data_ptr() for param in model.parameters()] == pointers
    assert torch.equal(model[1].weight, frozen)
    assert zo.values == sum(p.numel() for p in model.parameters()) - frozen.numel()


@pytest.mark.parametrize("spec", [OtfSpec(generators=7, width=5), PoolSpec(size=63, bits=6, lanes=3)])
def test_stream_source_replays_and_shifts_leftovers(spec):
    model = tiny_model()
    params = [p for p in model.parameters() if p.requires_grad]
    values = sum(p.numel() for p in params)
    source = perturbations.StreamPerturbation(spec)
    stream = Stream(spec)
    for start in (0, words_per_perturbation(spec, values), 2 * words_per_perturbation(spec, values)):
        first = torch.cat([u.clone().view(-1) for u in source.tensors(params)])
        again = torch.cat([u.clone().view(-1) for u in source.tensors(params)])
        assert source.start_word == start
        assert torch.equal(first, again)
        assert torch.equal(first, stream.perturbation(start, values))
        source.next(values)


def test_pezo_step_uses_one_u_for_all_passes():
    """With lr = 0 the weights come back to theta + eps u - 2 eps u + eps u, computed with the stream's u."""
    spec = OtfSpec(generators=7, width=5)
    model, expected = tiny_model(), tiny_model()
    zo = ZOSGD(model, perturbations.StreamPerturbation(spec), lr=0.0, eps=0.5)
    zo.step(lambda: loss_fn(model)(batch()))
    u = Stream(spec).perturbation(0, zo.values)
    with torch.no_grad():
        offset = 0
        for param in (p for p in expected.parameters() if p.requires_grad):
            piece = u[offset:offset + param.numel()].view(param.shape)
            for scale in (0.5, -1.0, 0.5):
                param.add_(piece * scale)
            offset += param.numel()
    for a, b in zip(model.parameters(), expected.parameters()):
        assert torch.equal(a, b)
    assert zo.source.start_word == words_per_perturbation(spec, zo.values)


def test_non_finite_loss_is_refused_without_update():
    model = tiny_model()
    before = [param.clone() for param in model.parameters()]
    zo = ZOSGD(model, perturbations.make("pezo-otf", spec=OtfSpec(generators=7, width=5)), lr=1.0, eps=1e-3)
    with pytest.raises(NonFiniteLoss, match="non-finite loss"):
        zo.step(lambda: torch.tensor(float("nan")))
    for param, old in zip(model.parameters(), before):
        assert torch.allclose(param, old, rtol=0, atol=1e-6)
    assert zo.source.start_word == 0


@pytest.mark.parametrize("name, decayed", [
    ("model.decoder.layers.0.self_attn.q_proj.bias", False),
    ("model.decoder.layers.0.self_attn_layer_norm.weight", False),          # OPT
    ("model.layers.0.input_layernorm.weight", False),                      # Llama
    ("roberta.encoder.layer.0.output.LayerNorm.weight", True),             # MeZO decays it too: case-sensitive
    ("model.norm.weight", True),                                           # Llama's final norm: no listed word
    ("model.layers.0.mlp.up_proj.weight", True)])
def test_weight_decay_exemption_is_mezos_name_rule(name, decayed):
    zo = ZOSGD(tiny_model(), perturbations.make("gaussian"), weight_decay=0.1)
    mezo_exempt = "bias" in name or "layer_norm" in name or "layernorm" in name
    assert zo.decay(name, zo.param_groups[0]) == (0.1 if decayed else 0.0)
    assert decayed != mezo_exempt
