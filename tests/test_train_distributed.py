"""ZO training over torch.distributed (gloo, CPU) launched by torchrun: data parallel, perturbation parallel and
both; every rank ends with the same weights, and they are bit-identical to one process computing the same loss."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import train_tiny
from pezo.train import distributed
from pezo.train.config import Config
from pezo.train.loop import Run

COMMON = ["--k", "4", "--test-size", "20", "--batch-size", "6", "--eval-every", "2", "--lr", "0.05", "--eps",
          "0.01", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {"model": train_tiny.causal_folder(folder / "causal"), "data": train_tiny.sentiment_csv(folder / "r.csv")}


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def train_argv(tiny, out, options):
    """`-m pezo.cli train` with `options` into `out`, on the tiny model and data unless it resumes."""
    argv = ["-m", "pezo.cli", "train", "--out", str(out), *map(str, options)]
    return argv + ([] if "--resume" in options else ["--model", tiny["model"], "--data", tiny["data"], *COMMON])


def torchrun(ranks, tiny, out, *options, wait=True, ok=True):
    """`pezo train` on `ranks` local processes (torchrun, gloo); asserts that it succeeds unless `ok` is False."""
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
            *train_argv(tiny, out, options)]
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                                start_new_session=True)
    done = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=600)
    assert (done.returncode == 0) == ok, done.stderr[-3000:]
    return done


def single(tiny, out, shards, steps, method="zo-sgd", perturb="gaussian", method_args=None):
    """The same run in this process, its loss computed over `shards` local shards of each batch."""
    config = Config(out=str(out), model=tiny["model"], data=tiny["data"], k=4, test_size=20, batch_size=6,
                    eval_every=2, lr=0.05, eps=0.01, steps=steps, method=method, perturb=perturb,
                    method_args=method_args or {})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # as each torchrun rank (OMP_NUM_THREADS=1): the same matmul rounding
    try:
        run = Run(config, progress_bar=False, layout=distributed.Layout(shards=shards))
        run.start()
        return run.train()
    finally:
        torch.set_num_threads(threads)


def weights(out):
    return load_file(str(out / "checkpoint" / "trainable.safetensors"))


def identical(first, second):
    return first.keys() == second.keys() and all(torch.equal(first[name], second[name]) for name in first)


def evaluations(out):
    return [{key: record[key] for key in ("step", "dev_accuracy")}
            for record in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
            if record.get("event") == "eval"]


@pytest.mark.parametrize("ranks, method, perturb, options", [
    (2, "zo-sgd", "gaussian", {}),
    (3, "zo-adam", "pezo-otf", {}),
    (2, "hizoo", "pezo-pool", {"alpha": 0.1}),
    (3, "zo-sgd-cons", "gaussian", {}),
    (2, "dizo", "pezo-otf", {"interval": 2, "iterations": 2}),
])
def test_data_parallel_equals_one_process(tiny, tmp_path, ranks, method, perturb, options):
    flags = [f"--{name}" for name in options]
    argv = [item for flag, value in zip(flags, options.values()) for item in (flag, value)]
    torchrun(ranks, tiny, tmp_path / "dp", "--steps", 4, "--method", method, "--perturb", perturb, *argv)
    summary = json.loads((tmp_path / "dp" / "summary.json").read_text())
    assert summary["ranks_agree"] and summary["world"] == ranks and summary["data_parallel"] == ranks
    single(tiny, tmp_path / "one", ranks, 4, method, perturb, options)
    assert identical(weights(tmp_path / "dp"), weights(tmp_path / "one"))
    assert evaluations(tmp_path / "dp") == evaluations(tmp_path / "one")      # sharded evaluation, same counts
    for name in ("start_answers.json", "test_answers.json"):               # the shards' answers joined in order
        assert (tmp_path / "dp" / name).read_text() == (tmp_path / "one" / name).read_text()


def test_against_the_plain_trainer(tiny, tmp_path):
    """Against one process that runs each batch in one forward pass with a float32 mean: the shards pad to their
    own longest prompt, so each example's loss can round differently (a few float32 ulps); over 4 steps at lr
    0.05 that moves a weight by far less than 1e-5, while the steps themselves move weights by about 1e-2."""
    torchrun(2, tiny, tmp_path / "dp", "--steps", 4)
    config = Config(out=str(tmp_path / "plain"), model=tiny["model"], data=tiny["data"], k=4, test_size=20,
                    batch_size=6, eval_every=2, lr=0.05, eps=0.01, steps=4)
    run = Run(config, progress_bar=False)
    run.start()
    run.train()
    dp, plain = weights(tmp_path / "dp"), weights(tmp_path / "plain")
    start = Run(Config(out=str(tmp_path / "x"), model=tiny["model"], data=tiny["data"], k=4, test_size=20),
                progress_bar=False).zo.named
    moved = max((plain[name] - param).abs().max().item() for name, param, _ in start)
    differ = max((dp[name] - plain[name]).abs().max().item() for name in dp)
    assert moved > 1e-3 and differ < 1e-5


@pytest.mark.parametrize("ranks, pp, shards, method", [(2, 2, 1, "zo-sgd"), (4, 2, 2, "zo-sgd"),
                                                       (2, 2, 1, "sparse-mezo")])
def test_perturbation_parallel_equals_one_process_with_q_queries(tiny, tmp_path, ranks, pp, shards, method):
    torchrun(ranks, tiny, tmp_path / "pp", "--steps", 4, "--method", method, "--queries", 2,
             "--perturbation-parallel", pp)
    summary = json.loads((tmp_path / "pp" / "summary.json").read_text())
    assert summary["ranks_agree"] and (summary["data_parallel"], summary["perturbation_parallel"]) == (shards, pp)
    single(tiny, tmp_path / "one", shards, 4, method=method, method_args={"queries": 2})
    assert identical(weights(tmp_path / "pp"), weights(tmp_path / "one"))


def test_traffic_is_scalars(tiny, tmp_path):
    """Per step: data parallel sends one (sum, count) pair per forward pass; perturbation parallel one all-gather
    of the q losses; nothing the size of the model."""
    torchrun(2, tiny, tmp_path / "dp", "--steps", 2)
    torchrun(2, tiny, tmp_path / "pp", "--steps", 2, "--queries", 2, "--perturbation-parallel", 2)
    values = sum(tensor.numel() for tensor in weights(tmp_path / "dp").values())
    for run, expected in (("dp", 2 * 2 * 8), ("pp", 2 * 2 * 8)):
        steps = [record for record in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
                 if "sent_bytes" in record]
        assert [record["sent_bytes"] for record in steps] == [expected, expected] and expected < values


def test_resume_on_the_same_and_on_another_number_of_ranks(tiny, tmp_path):
    torchrun(2, tiny, tmp_path / "whole", "--steps", 4)
    torchrun(2, tiny, tmp_path / "split", "--steps", 2)
    torchrun(2, tiny, tmp_path / "split", "--resume", "--steps", 4)
    assert identical(weights(tmp_path / "whole"), weights(tmp_path / "split"))
    torchrun(3, tiny, tmp_path / "split", "--resume", "--steps", 6)
    summary = json.loads((tmp_path / "split" / "summary.json").read_text())
    assert summary["steps_done"] == 6 and summary["ranks_agree"] and summary["world"] == 3


def test_a_failed_rank_stops_the_run_and_the_checkpoint_is_kept(tiny, tmp_path):
    process = torchrun(2, tiny, tmp_path / "run", "--steps", 100000, "--eval-every", 1, wait=False)
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "checkpoint").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = [int(pid) for pid in subprocess.run(["pgrep", "-f", str(tmp_path / "run"), "-P", str(process.pid)],
                                                  capture_output=True, text=True).stdout.split()]
    assert len(workers) == 2
    ranks = {pid: int(dict(line.split("=", 1) for line in Path(f"/proc/{pid}/environ").read_text().split("\0")
                           if "=" in line)["RANK"]) for pid in workers}
    os.kill(next(pid for pid, rank in ranks.items() if rank == 1), signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and "rank: 1" in err
    assert not list((tmp_path / "run").glob(".pezo-staging-*"))
    done = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["progress"]["step"]
    torchrun(2, tiny, tmp_path / "run", "--resume", "--steps", done + 1)


def test_perturbation_parallel_needs_queries_and_ranks(tiny, tmp_path, capsys):
    from pezo.cli import main
    assert main(["train", "--model", tiny["model"], "--data", tiny["data"], "--perturbation-parallel", "2",
                 "--out", str(tmp_path / "r")]) == 2
    assert "needs ranks: launch with torchrun" in capsys.readouterr().err
    done = torchrun(2, tiny, tmp_path / "r", "--perturbation-parallel", 2, ok=False)
    assert "needs at least 2 queries per step" in done.stderr


def test_forward_grad_runs_in_one_process_only(tiny, tmp_path):
    done = torchrun(2, tiny, tmp_path / "r", "--method", "forward-grad", ok=False)
    assert "forward-grad needs the derivative of the loss itself" in done.stderr
    assert not (tmp_path / "r").exists()


def launch_two_machines(tiny, outs, *options, ok=True):
    """The README's launch on several machines (static rendezvous at a master address), as two nodes of one rank
    each on this machine, node i with the run folder outs[i]; returns each node's (stdout, stderr), asserting that
    both succeed unless `ok` is False."""
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank",
                               str(node), "--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port",
                               str(port), *train_argv(tiny, out, options)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for node, out in enumerate(outs)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    assert ([node.returncode for node in nodes] == [0, 0]) == ok, outputs
    return outputs


def test_two_machines_without_a_shared_folder(tiny, tmp_path):
    """Two machines, each naming a folder of its own: rank 0 alone reads and writes the run (the other rank gets a
    resumed run's config and checkpoint, and the dev-selected weights, by broadcast), and nothing is written on the
    other machine. A run resumed so equals one process bit for bit."""
    outs = [tmp_path / "machine0" / "run", tmp_path / "machine1" / "run"]
    launch_two_machines(tiny, outs, "--steps", "2")
    launch_two_machines(tiny, outs, "--resume", "--steps", "4")
    assert not (tmp_path / "machine1").exists()
    summary = json.loads((outs[0] / "summary.json").read_text())
    assert summary["world"] == 2 and summary["ranks_agree"] and summary["steps_done"] == 4
    single(tiny, tmp_path / "one", 2, 4)
    assert identical(weights(outs[0]), weights(tmp_path / "one"))


def test_a_rank_that_refuses_stops_the_other_machine_with_one_line(tiny, tmp_path):
    """Rank 0 refuses its folder (a file of the user's in it); rank 1, on another machine (whose launcher does not
    stop it), says that another rank stopped, not gloo's own RuntimeError."""
    outs = [tmp_path / "machine0" / "run", tmp_path / "machine1" / "run"]
    outs[0].mkdir(parents=True)
    (outs[0] / "notes.txt").write_text("mine")
    (_, first), (_, second) = launch_two_machines(tiny, outs, "--steps", "2", ok=False)
    assert "holds what pezo did not write (notes.txt)" in first
    assert "error: rank 1 of 2: another rank stopped or cannot be reached" in second
    assert "RuntimeError" not in second and (outs[0] / "notes.txt").read_text() == "mine"


def test_backends(tiny, tmp_path, capsys):
    """auto is NCCL for a CUDA device and gloo otherwise; NCCL on the CPU, or where torch has none, and a backend
    without ranks are refused, before any model is loaded."""
    assert distributed.backend("auto", torch.device("cpu")) == "gloo"
    assert distributed.backend("auto", torch.device("cuda", 0)) == (
        "nccl" if torch.distributed.is_nccl_available() else "gloo")
    assert distributed.backend("gloo", torch.device("cuda", 0)) == "gloo"
    with pytest.raises(ValueError, match=r"it needs --device cuda \(also on --resume\), not cpu"):
        distributed.backend("nccl", torch.device("cpu"))
    if not torch.distributed.is_nccl_available():
        with pytest.raises(ValueError, match="this torch has no NCCL"):
            distributed.backend("nccl", torch.device("cuda", 0))
    from pezo.cli import main
    assert main(["train", "--model", tiny["model"], "--data", tiny["data"], "--backend", "gloo",
                 "--out", str(tmp_path / "r")]) == 2
    assert "--backend gloo needs ranks: launch with torchrun" in capsys.readouterr().err
    done = torchrun(2, tiny, tmp_path / "r", "--backend", "nccl", ok=False)
    assert "--backend nccl runs collectives on GPUs" in done.stderr and not (tmp_path / "r").exists()
    if not torch.cuda.is_available():
        done = torchrun(2, tiny, tmp_path / "r", "--device", "cuda", ok=False)
        assert "error: device 'cuda' cannot be used here" in done.stderr and not (tmp_path / "r").exists()


def test_an_unnumbered_cuda_device_is_the_local_ranks(monkeypatch):
    """Under torchrun, --device cuda puts each rank of a machine on its own GPU; a numbered device or the CPU is
    used as given, and a plain process keeps what it was given."""
    monkeypatch.delenv("RANK", raising=False)
    assert distributed.rank_device("cuda") == torch.device("cuda")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.rank_device("cuda") == torch.device("cuda", 1)
    assert distributed.rank_device("cuda:0") == torch.device("cuda", 0)
    assert distributed.rank_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.device_count() < 2 or not torch.distributed.is_nccl_available(),
                    reason="needs two CUDA devices and NCCL")
def test_nccl_on_two_gpus(tiny, tmp_path):
    """Two ranks, one GPU each, their collectives on NCCL (auto with --device cuda): the same weights on both
    ranks, a resume that continues bit for bit, and the scalars-only traffic."""
    torchrun(2, tiny, tmp_path / "whole", "--device", "cuda", "--steps", 4)
    torchrun(2, tiny, tmp_path / "split", "--device", "cuda", "--steps", 2)
    torchrun(2, tiny, tmp_path / "split", "--resume", "--steps", 4, "--device", "cuda")
    summary = json.loads((tmp_path / "split" / "summary.json").read_text())
    assert summary["ranks_agree"] and summary["steps_done"] == 4
    assert identical(weights(tmp_path / "whole"), weights(tmp_path / "split"))
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert [record["sent_bytes"] for record in records if "sent_bytes" in record] == [32] * 4
