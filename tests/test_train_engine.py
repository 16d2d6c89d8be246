"""ZO-SGD with the engine's numerics (train/engine.py): the passes read theta + s eps u computed by the golden
engine and never written into the weights, the update is the engine's, tied weights are perturbed wherever they are
read, bf16 weights stay bf16 values, and a run resumes bit-identically."""
import json

import pytest
import torch
from safetensors.torch import load_file

import train_tiny
from pezo.cli import main
from pezo.golden import OtfSpec, PoolSpec, engine
from pezo.train import perturbations, zo
from pezo.train.engine import EngineNumerics

EPS = 2.0 ** -7


class Tied(torch.nn.Module):
    """A small model whose output layer reads the embedding's weight (tied weights, as in many LMs)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(12, 6)
        self.mid = torch.nn.Linear(6, 6)
        self.out = torch.nn.Linear(6, 12, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        return self.out(torch.tanh(self.mid(self.embed(tokens))))


def loss_of(logits, labels):
    return torch.nn.functional.cross_entropy(logits.mean(1), labels)


def engine_step_by_hand(model, source, fmt, lr, tokens, labels):
    """One engine ZO-SGD step written out from docs/spec.md section 11 with torch.func.functional_call."""
    named = [(name, param) for name, param in model.named_parameters()]
    params = [param for _, param in named]
    position = source.position
    us = list(source.tensors(params, position))
    losses = []
    for sign in (1, -1):
        read = {name: engine.perturb(param, u, sign, 7, fmt) for (name, param), u in zip(named, us)}
        read["out.weight"] = read["embed.weight"]
        with torch.no_grad():
            losses.append(loss_of(torch.func.functional_call(model, read, (tokens,)), labels))
    grad = ((losses[0] - losses[1]) / (2 * EPS)).item()
    c = engine.fp32(lr * grad)
    return [engine.update(param, u, c, fmt) for param, u in zip(params, us)], losses


@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
@pytest.mark.parametrize("spec", [OtfSpec(generators=7, width=6), PoolSpec(size=255, bits=8, lanes=5)])
def test_engine_step_is_the_spec_written_out(fmt, spec):
    model = Tied()
    tokens, labels = torch.randint(0, 12, (8, 5), generator=torch.Generator().manual_seed(1)), torch.arange(8) % 2
    optimizer = zo.make("zo-sgd", model, perturbations.make("pezo-" + spec.strategy, spec=spec), lr=0.25, eps=EPS)
    optimizer.numerics = EngineNumerics(optimizer, model, fmt)
    reference = Tied()
    reference.load_state_dict(model.state_dict())            # already stored in the format
    stored = {name: param.clone() for name, param in model.named_parameters()}
    seen = []

    def closure():
        seen.append([param.clone() for param in optimizer.params])      # the weights in memory, mid-step
        return loss_of(model(tokens), labels)

    source = perturbations.make("pezo-" + spec.strategy, spec=spec)
    for _ in range(3):
        want, losses = engine_step_by_hand(reference, source, fmt, 0.25, tokens, labels)
        optimizer.step(closure)
        assert [optimizer.last.losses["loss_plus"], optimizer.last.losses["loss_minus"]] == [l.item() for l in losses]
        for (name, param), expected in zip(model.named_parameters(), want):
            assert torch.equal(param.view(torch.int32), expected.view(torch.int32)), name
        with torch.no_grad():
            for param, expected in zip(reference.parameters(), want):
                param.copy_(expected)
        source.next(sum(param.numel() for param in reference.parameters()))
    # during both passes of the first step the weights in memory were the stored ones: nothing was written into them
    for during in seen[:2]:
        assert all(torch.equal(now, before) for now, before in zip(during, stored.values()))
    if fmt == "bf16":
        for param in model.parameters():
            assert torch.equal(param, param.to(torch.bfloat16).to(torch.float32))


def test_the_passes_read_the_perturbed_tied_weight_everywhere():
    model = Tied()
    source = perturbations.make("pezo-otf", spec=OtfSpec(generators=3, width=5))
    optimizer = zo.make("zo-sgd", model, source, lr=0.0, eps=EPS)
    optimizer.numerics = EngineNumerics(optimizer, model, "fp32")
    u = next(source.tensors([model.embed.weight], 0))
    stored = model.embed.weight.detach().clone()
    with torch.no_grad(), optimizer.numerics.reading(0, 1):
        assert torch.equal(model.embed.parametrizations.weight.original, stored)
        assert torch.equal(model.embed.weight, engine.perturb(stored, u, 1, 7, "fp32"))
        assert torch.equal(model.out.weight, model.embed.weight) and not torch.equal(model.out.weight, stored)
    assert type(model.embed) is torch.nn.Embedding and model.out.weight is model.embed.weight


def test_the_passes_can_read_what_a_hardware_engine_emitted():
    """reading_values: the forward passes read given values (flattened in the stream's order) through the same
    parametrizations; perturbed_values is what the perturb pass emits, in that order."""
    model = Tied()
    source = perturbations.make("pezo-otf", spec=OtfSpec(generators=3, width=5))
    optimizer = zo.make("zo-sgd", model, source, lr=0.0, eps=EPS)
    optimizer.numerics = EngineNumerics(optimizer, model, "fp32")
    params = [model.embed.weight, model.mid.weight, model.mid.bias]
    stored = [param.detach().clone() for param in params]
    values = torch.arange(sum(param.numel() for param in params), dtype=torch.float32)
    with torch.no_grad(), optimizer.numerics.reading_values(values):
        assert torch.equal(model.embed.weight, values[:72].view(12, 6)) and model.out.weight is not None
        assert torch.equal(model.out.weight, model.embed.weight)
        assert torch.equal(model.mid.bias, values[-6:])
    assert all(torch.equal(param, old) for param, old in zip(params, stored))
    us = list(source.tensors(params, 0))
    expected = torch.cat([engine.perturb(old, u, -1, 7, "fp32").reshape(-1) for old, u in zip(stored, us)])
    assert torch.equal(optimizer.numerics.perturbed_values(-1), expected)


def test_run_resumes_bit_identically_and_records_the_numerics(tmp_path):
    model, data = train_tiny.causal_folder(tmp_path / "m"), train_tiny.sentiment_csv(tmp_path / "d.csv")
    common = ["train", "--model", model, "--data", data, "--k", "4", "--test-size", "8", "--batch-size", "4",
              "--eval-every", "2", "--lr", "0.05", "--eps", str(EPS), "--perturb", "pezo-pool", "--numerics",
              "engine-bf16", "--no-progress"]
    assert main(common + ["--steps", "4", "--out", str(tmp_path / "whole")]) == 0
    assert main(common + ["--steps", "2", "--out", str(tmp_path / "split")]) == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "4", "--no-progress"]) == 0
    whole, split = (load_file(tmp_path / run / "checkpoint" / "trainable.safetensors") for run in ("whole", "split"))
    assert all(torch.equal(whole[key], split[key]) for key in whole)
    assert all(torch.equal(t, t.to(torch.bfloat16).to(torch.float32)) for t in whole.values())
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["numerics"] == "engine-bf16"


@pytest.mark.parametrize("options, says", [
    (["--eps", "0.001"], "eps=0.001 is not 2^-e"),
    (["--perturb", "gaussian"], "the gaussian source cannot give"),
    (["--method", "zo-adam"], "runs zo-sgd with one two-sided query"),
    (["--queries", "2"], "runs zo-sgd with one two-sided query"),
])
def test_what_the_engine_cannot_run_is_refused_before_anything_loads(tmp_path, capsys, options, says):
    argv = ["train", "--model", str(tmp_path / "no-such-model"), "--numerics", "engine", "--eps", str(EPS),
            "--perturb", "pezo-otf", "--out", str(tmp_path / "run"), *options]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert says in error and error.count("\n") == 1 and not (tmp_path / "run").exists()
