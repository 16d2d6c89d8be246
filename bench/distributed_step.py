"""Data-parallel ZO on one machine: step time of N ranks (1 thread each) against one process with N threads, the
bytes each step sends, and the latency of the one collective a forward pass needs.

    python bench/distributed_step.py [--ranks 2] [--steps 8] [--json out/distributed_step.json]

Both runs train the default model (full fine-tuning, ZO-SGD, Gaussian) on the same global batches; the first step
(warm-up) is left out of the median. The latency is the median of 1000 all-gathers of one (sum, count) pair of
float64 over gloo, the collective train/distributed.py makes per forward pass.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pezo.files import write_file

TRAIN = ["-m", "pezo.cli", "train", "--test-size", "32", "--no-progress"]


def steps_of(out):
    records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    return [record for record in records if "seconds" in record]


def train(ranks, threads, steps, out):
    """(median step seconds after the first, bytes sent per step) of one run."""
    launcher = [sys.executable] if ranks == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                    "--nproc-per-node", str(ranks)]
    done = subprocess.run([*launcher, *TRAIN, "--steps", str(steps), "--eval-every", str(steps), "--out", str(out)],
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {ranks}-rank run failed:\n{done.stderr[-2000:]}")
    records = steps_of(out)
    return statistics.median(r["seconds"] for r in records[1:]), [r.get("sent_bytes", 0) for r in records]


def latency():
    """Run under torchrun: time all-gathers of a (sum, count) pair; rank 0 prints the median in microseconds."""
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")
    pair, out = torch.zeros(2, dtype=torch.float64), [torch.empty(2, dtype=torch.float64)
                                                      for _ in range(dist.get_world_size())]
    times = []
    for _ in range(1100):
        begin = time.perf_counter()
        dist.all_gather(out, pair)
        times.append(time.perf_counter() - begin)
    if dist.get_rank() == 0:
        print(json.dumps({"allgather_us": statistics.median(times[100:]) * 1e6}))
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--latency", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latency:
        return latency()
    with tempfile.TemporaryDirectory(prefix="pezo-bench-") as work:
        one, _ = train(1, args.ranks, args.steps, Path(work) / "one")
        many, sent = train(args.ranks, 1, args.steps, Path(work) / "many")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                           str(args.ranks), __file__, "--latency"], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    gather = json.loads(done.stdout.strip().splitlines()[-1])["allgather_us"]
    record = {"ranks": args.ranks, "steps": args.steps, "one_process_step_s": one, "ranks_step_s": many,
              "speedup": one / many, "sent_bytes_per_step": sent, "allgather_us": gather}
    print(f"| run | median step (s) |\n|---|---|\n| 1 process, {args.ranks} threads | {one:.2f} |\n"
          f"| {args.ranks} ranks, 1 thread each | {many:.2f} |\n\n"
          f"speed-up {one / many:.2f}x; bytes sent per step by rank 0: {sorted(set(sent))}; "
          f"all-gather of a (sum, count) pair over gloo: {gather:.0f} us (median of 1000)")
    if args.json:
        write_file(args.json, json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
