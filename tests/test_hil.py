"""Training through the RTL (`pezo hil`): a small real causal LM (rt-tiny, built from a config) on Rotten Tomatoes,
every perturbed and updated weight from the Verilated engine and generator; the losses and the weights after every
step equal the golden trainer's, and the final weights equal those of a separate `pezo train --numerics engine`
run on the same model, data and seeds."""
import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file

from pezo.cli import main
from pezo.train import models

COMMON = ["--lr", "0.01", "--k", "8", "--batch-size", "8", "--test-size", "50"]


@pytest.mark.parametrize("numerics, strategy, fields", [
    ("engine", "pool", ["--size", "255", "--bits", "8", "--lanes", "5"]),
    ("engine-bf16", "otf", ["--generators", "7", "--width", "6"]),
])
def test_training_through_the_rtl_is_bit_identical(tmp_path, capsys, numerics, strategy, fields):
    steps = 2
    assert main(["hil", "--out", str(tmp_path / "hil"), "--numerics", numerics, "--steps", str(steps),
                 "--strategy", strategy, *fields, *COMMON]) == 0
    assert "PASS" in capsys.readouterr().out
    report = json.loads((tmp_path / "hil" / "report.json").read_text())["steps"]
    assert [step["step"] for step in report] == [1, 2] and all(step["identical"] for step in report)
    assert all(step["perturbed_differing"] == [0, 0] for step in report)
    assert main(["train", "--model", "rt-tiny", "--perturb", "pezo-" + strategy, "--numerics", numerics,
                 "--eps", str(2.0 ** -10), "--steps", str(steps), "--eval-every", str(steps), "--no-progress",
                 "--out", str(tmp_path / "train"), *fields, *COMMON]) == 0
    saved = load_file(tmp_path / "train" / "checkpoint" / "trainable.safetensors")     # stored by name
    order = [name for name, _ in models.load("rt-tiny").model.named_parameters()]      # the engine's order
    flat = torch.cat([saved[name].reshape(-1) for name in order])
    assert hashlib.sha256(flat.view(torch.int32).numpy().tobytes()).hexdigest() == report[-1]["weights_sha256"]


def test_the_host_driver_trains_through_the_ip_bit_for_bit(tmp_path, capsys):
    """`pezo hil --via axi`: the host driver (host/driver.py) takes ZO steps through the engine's AXI IP, writing its
    registers over AXI4-Lite and moving the weights through two DMAs (cocotbext-axi playing the processor), on
    Verilator; every perturbed weight, both losses and every weight after the step equal the golden trainer's."""
    assert main(["hil", "--out", str(tmp_path / "hil"), "--via", "axi", "--numerics", "engine", "--steps", "1",
                 "--strategy", "pool", "--size", "255", "--bits", "8", "--lanes", "5", *COMMON]) == 0
    assert "PASS 1 ZO steps" in capsys.readouterr().out
    report = json.loads((tmp_path / "hil" / "report.json").read_text())["steps"]
    assert len(report) == 1 and report[0]["identical"] and report[0]["perturbed_differing"] == [0, 0]
    assert sorted(path.name for path in (tmp_path / "hil").iterdir()) == [
        ".pezo.json", ".pezo.lock", ".pezo.marking", "ip", "plan.json", "report.json", "run"]
