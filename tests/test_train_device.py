"""The ZO methods on a CUDA device (skipped where there is none, as in CI): every method trains with every source,
the PeZO sources give the same u on the CPU and the device, and resume on the device is bit-identical."""
import io

import pytest
import torch

import pezo.train as zo
from test_train_methods import EXTRA, LEARNING, SEED, SPECS, Tiny, batch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICE = "cuda"
RAW = {"uniform-raw": SPECS["pezo-otf"]}


def loss_on_device(model, step):
    inputs, labels = batch(step)
    return torch.nn.functional.cross_entropy(model(inputs.to(DEVICE)), labels.to(DEVICE))


def optimizer_for(method, model, kind):
    lr = LEARNING[method] / (100 if kind == "uniform-raw" else 1)
    source = zo.source(kind, seed=SEED, spec={**SPECS, **RAW}.get(kind))
    return zo.make(method, model, source, lr=lr, eps=1e-2, **EXTRA.get(method, {}))


@pytest.mark.parametrize("kind", zo.SOURCES)
@pytest.mark.parametrize("method", list(LEARNING))
def test_every_method_trains_on_the_device(method, kind):
    model = Tiny().to(DEVICE)
    optimizer = optimizer_for(method, model, kind)
    first = loss_on_device(model, 0).item()
    for _ in range(60):
        optimizer.step(lambda: loss_on_device(model, 0))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert loss_on_device(model, 0).item() < first


@pytest.mark.parametrize("kind", ["pezo-otf", "pezo-pool"])
def test_stream_u_is_the_same_on_the_device(kind):
    source = zo.source(kind, spec=SPECS[kind])
    params = list(Tiny().parameters())
    for here, there in zip(source.tensors(params), source.tensors([p.to(DEVICE) for p in params])):
        assert there.device.type == DEVICE and torch.equal(here, there.cpu())


@pytest.mark.parametrize("kind", ["gaussian", "pezo-pool"])
@pytest.mark.parametrize("method", list(LEARNING))
def test_resume_on_the_device_is_bit_identical(method, kind):
    whole = Tiny().to(DEVICE)
    straight = optimizer_for(method, whole, kind)
    for step in range(4):
        straight.step(lambda: loss_on_device(whole, step))
    first = Tiny().to(DEVICE)
    optimizer = optimizer_for(method, first, kind)
    for step in range(2):
        optimizer.step(lambda: loss_on_device(first, step))
    buffer = io.BytesIO()
    torch.save({"weights": first.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    second = Tiny(seed=1).to(DEVICE)
    resumed = optimizer_for(method, second, kind)
    second.load_state_dict(saved["weights"])
    resumed.load_state_dict(saved["optimizer"])
    for step in range(2, 4):
        resumed.step(lambda: loss_on_device(second, step))
    for a, b in zip(whole.parameters(), second.parameters()):
        assert torch.equal(a, b)
