"""A few real ZO steps on the default model (SmolLM2-135M-Instruct from its GGUF) and Rotten Tomatoes, offline:
one seeded, one pool and the raw source through the API, and a pezo-otf run through `pezo train`."""
import json

import pytest
import torch

from pezo.cli import main
from pezo.train import data, models, perturbations, tasks
from pezo.train import ZOSGD


@pytest.fixture(scope="module")
def default_model():
    return models.load()


@pytest.mark.parametrize("name", ["gaussian", "pezo-pool", "uniform-raw"])
def test_sources_take_a_step_on_the_default_model(default_model, name):
    classifier = tasks.Classifier(default_model, tasks.get("rt"))
    split = data.few_shot(data.rotten_tomatoes(), 2, seed=0, classes=2, test_size=4)
    weight = default_model.model.model.layers[0].mlp.down_proj.weight
    before = weight.clone()
    zo = ZOSGD(default_model.model, perturbations.make(name, seed=1), lr=1e-6, eps=1e-3)
    loss = zo.step(lambda: classifier.loss((split.train.texts[:1], split.train.labels[:1])))
    assert 0 < loss < 50
    assert not torch.equal(weight, before)


def test_pezo_train_on_the_default_model(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--perturb", "pezo-otf", "--k", "2", "--test-size", "8", "--batch-size", "2",
                 "--steps", "2", "--eval-every", "2", "--seed", "4", "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "smollm2" and summary["steps_done"] == 2 and summary["seed"] == 4
    assert summary["spec"] == {"strategy": "otf", "generators": 31, "width": 8, "seed": 1, "exp_bits": None,
                               "length_bits": 32}
