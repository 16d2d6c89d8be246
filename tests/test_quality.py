"""Perturbation quality (golden/quality.py, `pezo quality`, and what a run records): every figure computed again
here another way, from the golden stream's vectors themselves."""
import json
import math

import numpy as np
import torch
import pytest

import train_tiny
from pezo.cli import main
from pezo.golden import PAPER_DEFAULTS, OtfSpec, PoolSpec, Stream
from pezo.golden.quality import analyse, lags, matrix_rank
from pezo.golden.stream import words_per_perturbation
from pezo.train import models, perturbations
from pezo.train import quality as train_quality

DEFAULT_VALUES = 134_515_008
"""Trainable values of the default model (SmolLM2-135M, full fine-tuning)."""


def vectors(spec, values):
    """The distinct perturbation vectors over a whole period of starts, in order of first appearance."""
    stream, words, found = Stream(spec), words_per_perturbation(spec, values), {}
    for t in range(spec.period_words):
        u = stream.perturbation(t * words, values).numpy().astype(np.float64)
        found.setdefault(u.tobytes(), u)
    return list(found.values())


SMALL = [OtfSpec(generators=3, width=4), OtfSpec(generators=7, width=3), PoolSpec(size=63, bits=6, lanes=3),
         PoolSpec(size=21, bits=5)]


@pytest.mark.parametrize("spec", SMALL, ids=lambda spec: json.dumps(spec.to_dict(), sort_keys=True))
@pytest.mark.parametrize("values", [1, 20, 45, 60, 90, 100, 135, 301])
def test_reach_and_span_equal_the_vectors_themselves(spec, values):
    found, quality = vectors(spec, values), analyse(spec, values)
    assert quality.span_exact == (values >= quality.period_values)
    assert quality.reach == len(found) if quality.span_exact else quality.reach >= len(found)
    rank = np.linalg.matrix_rank(np.array(found))
    assert quality.span == rank if quality.span_exact else quality.span == min(quality.reach, values) >= rank
    assert quality.periodic_dimension == min(values, quality.period_values)


@pytest.mark.parametrize("spec", SMALL + [PAPER_DEFAULTS["otf-31x8"]], ids=str)
def test_moments_correlation_and_bias_from_the_period(spec):
    quality = analyse(spec, 10_000)
    s = Stream(spec).values(0, spec.period_words * spec.lanes).numpy().astype(np.float64)
    assert quality.mean == pytest.approx(s.mean(), abs=1e-12)
    assert quality.mean_square == pytest.approx(np.mean(s * s), rel=1e-12)
    for k, r in zip(lags(spec.lanes), quality.autocorrelation):
        assert r == pytest.approx(np.corrcoef(s, np.roll(s, -k))[0, 1], abs=1e-9)
    # E[u u^T] as the average of outer products over every position of the period, applied to a spike gradient
    window = len(lags(spec.lanes))
    rows = s[(np.arange(s.size)[:, None] + np.arange(2 * window + 1)) % s.size]
    step = rows.T @ rows[:, window] / s.size
    spike = np.eye(2 * window + 1)[window]
    assert quality.step_bias == pytest.approx(np.linalg.norm(step / step[window] - spike), rel=1e-9)


@pytest.mark.parametrize("name, spec, reach, mean_square", [
    ("otf-31x8", PAPER_DEFAULTS["otf-31x8"], 85, 1.32),
    ("otf-31x5", OtfSpec(generators=31, width=5), 1, None),
    ("otf-31x10", OtfSpec(generators=31, width=10), 11, None),
    ("otf-31x14", PAPER_DEFAULTS["otf-31x14"], None, 1.32),
    ("otf-7x8", OtfSpec(generators=7, width=8), None, 1.15),
    ("pool-4095x12", PAPER_DEFAULTS["pool-4095x12"], 455, 1.00),
    ("pool-4096x12", PoolSpec(size=4096, bits=12), 64, None)])
def test_the_default_models_figures(name, spec, reach, mean_square):
    """The figures issue 'Perturbation quality' reported, for the default model: K by listing the distinct start
    words t W mod P, E[u^2] from the stream's values."""
    quality = analyse(spec, DEFAULT_VALUES)
    words = words_per_perturbation(spec, DEFAULT_VALUES)
    assert quality.reach == len({t * words % spec.period_words for t in range(spec.period_words)})
    if reach is not None:
        assert quality.reach == reach
    if mean_square is not None:
        assert quality.mean_square == pytest.approx(mean_square, abs=0.01)


def test_the_issues_correlations_and_pool_mean():
    otf = analyse(PAPER_DEFAULTS["otf-31x8"], DEFAULT_VALUES)
    assert (round(otf.autocorrelation[29], 2), round(otf.autocorrelation[59], 2)) == (0.48, 0.23)
    assert otf.worst_lag == 30
    assert round(analyse(OtfSpec(generators=7, width=8), DEFAULT_VALUES).autocorrelation[5], 2) == 0.38
    assert round(analyse(PAPER_DEFAULTS["pool-4095x12"], DEFAULT_VALUES).mean, 3) == -0.037


def test_confinement_of_a_one_direction_generator():
    """otf-31x5 on the default model: every step's u is step 0's, bit for bit (checked on the first values)."""
    spec = OtfSpec(generators=31, width=5)
    stream, words = Stream(spec), words_per_perturbation(spec, DEFAULT_VALUES)
    first = stream.perturbation(0, 100_000)
    assert all(np.array_equal(first, stream.perturbation(t * words, 100_000)) for t in (1, 2, 17))
    assert analyse(spec, DEFAULT_VALUES).span == 1


MATRIX_SPECS = [PoolSpec(size=24, bits=6), PoolSpec(size=20, bits=6, hop_bits=3), PoolSpec(size=24, bits=6, slip=1),
                OtfSpec(generators=3, width=4), OtfSpec(generators=7, width=3)]


@pytest.mark.parametrize("spec", MATRIX_SPECS, ids=lambda spec: json.dumps(spec.to_dict(), sort_keys=True))
@pytest.mark.parametrize("lead, rows, cols", [(0, 30, 12), (5, 16, 30), (7, 40, 10), (0, 6, 48)])
def test_matrix_rank_is_the_rank_a_run_reaches(spec, lead, rows, cols):
    """A random combination of every perturbation of a whole period, on a rows x cols matrix that follows `lead`
    values of another tensor: its rank is the bound, and each of its rows repeats the row N / gcd(cols, N) above."""
    params = [torch.empty(lead), torch.empty(rows, cols)] if lead else [torch.empty(rows, cols)]
    quality = analyse(spec, sum(param.numel() for param in params))
    source, total = perturbations.make(spec.source, spec=spec), np.zeros((rows, cols))
    coefficients = np.random.default_rng(0).standard_normal(quality.reach)
    for coefficient in coefficients:
        total += coefficient * list(source.tensors(params))[-1].numpy()
        source.next(sum(param.numel() for param in params))
    bound = matrix_rank(quality.period_values, rows, cols)
    assert np.linalg.matrix_rank(total) == bound
    classes = quality.period_values // math.gcd(cols, quality.period_values)
    if classes < rows:
        assert np.array_equal(total[classes:], total[:-classes])


def test_the_weakest_matrix_of_a_model():
    pooled = train_quality.analyse("pezo-pool", PoolSpec(size=576, bits=12), top_blocks=2)
    assert (pooled["matrix"], pooled["matrix_rank"], pooled["matrix_full_rank"]) == (
        "model.layers.28.self_attn.q_proj.weight", 1, 576)        # every row of q_proj moves alike
    assert train_quality.matrix_cell(pooled) == "1 of 576 (layers.28.self_attn.q_proj)"
    down = train_quality.analyse("pezo-pool", PoolSpec(size=6400, bits=12), top_blocks=2)
    assert (down["matrix"], down["matrix_rank"]) == ("model.layers.28.mlp.down_proj.weight", 6400 // 256)
    gaussian = train_quality.analyse("gaussian", top_blocks=2)
    assert gaussian["matrix_rank"] == 576 and train_quality.matrix_cell(gaussian) == "full"
    assert train_quality.analyse("gaussian", values=100)["matrix"] is None


def test_seeded_sources_by_definition():
    gaussian = perturbations.make("gaussian").quality(1000)
    assert (gaussian.reach, gaussian.mean_square, gaussian.step_bias, gaussian.periodic_dimension) == (None, 1.0,
                                                                                                      0.0, 1000)
    assert perturbations.make("uniform").quality(10).mean_square == pytest.approx(1 / 3)
    raw = perturbations.make("uniform-raw").quality(DEFAULT_VALUES)
    assert raw.reach == 85 and raw.mean_square > 100            # mantissas without their 2^-6


def test_trainable_values_without_weights():
    assert models.trainable_values(models.TINY_MODEL) == 84_640
    assert models.trainable_values("meta-llama/Llama-2-7b-hf") == 6_738_415_616
    assert models.trainable_values("roberta-large") == 355_412_057
    assert models.trainable_values("facebook/opt-1.3b", "lora") == 24 * 2 * 8 * (2048 + 2048)


def test_command_prints_and_writes_the_analysis(tmp_path, capsys):
    assert main(["quality", "--perturb", "pezo-pool", "--model", "rt-tiny", "roberta-base",
                 "--json", str(tmp_path / "q.json")]) == 0
    rows = json.loads((tmp_path / "q.json").read_text())["rows"]
    assert [row["values"] for row in rows] == [84_640, 124_697_433]
    assert rows[1]["reach"] == analyse(PAPER_DEFAULTS["pool-4095x12"], 124_697_433).reach
    assert "| rt-tiny | 84,640 | 4,095 |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, named", [
    (["--preset", "nope"], "--preset nope"),
    (["--values", "0"], "--values 0"),
    (["--values", "-3"], "--values -3"),
    (["--model", "./no/such/model"], "./no/such/model"),
    (["--values", "10", "--peft", "lora"], "--values"),
    (["--perturb", "gaussian", "--width", "8"], "--perturb gaussian")])
def test_bad_input_is_one_line(argv, named, capsys):
    assert main(["quality", *argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {"model": train_tiny.causal_folder(folder / "causal"), "data": train_tiny.sentiment_csv(folder / "r.csv")}


def train(tiny, out, *options):
    return main(["train", "--model", tiny["model"], "--data", tiny["data"], "--k", "4", "--test-size", "20",
                 "--batch-size", "4", "--eval-every", "2", "--steps", "3", "--no-progress", "--out", str(out),
                 *options])


def test_a_run_records_its_quality_and_warns_beyond_reach(tiny, tmp_path, capsys):
    assert train(tiny, tmp_path / "run", "--perturb", "pezo-pool", "--size", "15", "--bits", "4", "--steps",
                 "16") == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    spec = PoolSpec(size=15, bits=4)
    from_config = train_quality.analyse("pezo-pool", spec, model=tiny["model"])      # the meta device's shapes
    assert config["quality"] == summary["quality"] == from_config
    assert from_config.items() >= analyse(spec, from_config["values"]).to_dict().items()
    assert from_config["matrix_rank"] < from_config["matrix_full_rank"]
    assert config["quality"]["reach"] <= 15 and "16 steps exceed the" in capsys.readouterr().err


def test_scale_compensation_is_the_same_run_at_the_compensated_lr_and_eps(tiny, tmp_path):
    spec = ["--perturb", "pezo-otf", "--generators", "7", "--width", "8"]
    assert train(tiny, tmp_path / "on", *spec, "--lr", "0.05", "--eps", "0.01", "--compensate-scale") == 0
    mean_square = json.loads((tmp_path / "on" / "config.json").read_text())["quality"]["mean_square"]
    lr, eps = 0.05 / mean_square, 0.01 / math.sqrt(mean_square)
    assert train(tiny, tmp_path / "off", *spec, "--lr", repr(lr), "--eps", repr(eps)) == 0
    losses = [[r.get("loss") for r in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
               if "loss" in r] for run in ("on", "off")]
    assert losses[0] == losses[1] and len(losses[0]) == 3
    config = json.loads((tmp_path / "on" / "config.json").read_text())
    assert (config["effective_lr"], config["effective_eps"]) == (lr, eps)


def test_scale_compensation_refuses_the_engine(tiny, tmp_path, capsys):
    assert train(tiny, tmp_path / "run", "--perturb", "pezo-pool", "--compensate-scale", "--numerics", "engine",
                 "--eps", "0.0009765625") == 2
    assert "compensate_scale" in capsys.readouterr().err


def test_a_sources_analysis_fills_the_period_its_training_reads():
    source = perturbations.make("pezo-otf")
    assert source.quality(10_000) == analyse(PAPER_DEFAULTS["otf-31x8"], 10_000)
    assert source.stream(torch.device("cpu"))._block_values is not None       # computed once, for both
