"""Peak memory of each ZO method relative to ZO-SGD on the default model (full fine-tuning), one process per
method so that each peak is its own.

Each process loads the model and builds the method with its default arguments, then resets the kernel's peak-RSS
counter (/proc/self/clear_refs) and takes `--steps` steps on one batch: the table gives the peak resident set size
during the steps (VmHWM) and the tensors the method keeps in its state between steps (momentum and Adam buffers,
HiZOO's Sigma, DiZO's theta_0).

    python bench/method_memory.py [--steps 2] [--batch-size 16] [--perturb gaussian] [--json out/memory.json]
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from pezo.files import write_file


def status_mib(field):
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB."""
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) / 1024


def measure(method, steps, batch_size, perturb, seed):
    """Run `steps` steps of `method` in this process; returns its memory record."""
    import torch
    import pezo.train as zo
    from pezo.train import data, models, tasks
    lm = models.load()
    classifier = tasks.Classifier(lm, tasks.get("rt"))
    split = data.few_shot(data.rotten_tomatoes(), 16, seed, 2, test_size=1)
    batch = split.train.take(range(batch_size))
    optimizer = zo.make(method, lm.model, zo.source(perturb, seed=seed), lr=1e-7, eps=1e-3)
    Path("/proc/self/clear_refs").write_text("5")          # the peak RSS restarts from the current RSS
    loaded = status_mib("VmRSS")
    for _ in range(steps):
        optimizer.step(lambda: classifier.loss((batch.texts, batch.labels)))
    peak = status_mib("VmHWM")
    kept = sum(tensor.numel() * tensor.element_size() for state in optimizer.state.values() if isinstance(state, dict)
               for tensor in state.values() if torch.is_tensor(tensor)) / 2 ** 20
    return {"method": method, "loaded_mib": loaded, "peak_mib": peak, "state_mib": kept, "weights": optimizer.values,
            "threads": torch.get_num_threads()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--perturb", default="gaussian")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the records as JSON here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.steps, args.batch_size, args.perturb, args.seed)))
        return
    import pezo.train as zo
    records = []
    for method in zo.METHODS:
        command = [sys.executable, __file__, "--one", method, "--steps", str(args.steps), "--batch-size",
                   str(args.batch_size), "--perturb", args.perturb, "--seed", str(args.seed)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        records.append(json.loads(output.strip().splitlines()[-1]))
        print(f"measured {method}", file=sys.stderr, flush=True)
    base = next(r for r in records if r["method"] == "zo-sgd")
    print(f"Peak memory per method, default model ({base['weights']:,} weights, full fine-tuning), {args.steps} "
          f"steps of batch {args.batch_size}, source {args.perturb}")
    print("| method | peak RSS during the steps, MiB | x ZO-SGD | state kept between steps, MiB |")
    print("|---|---|---|---|")
    for r in records:
        print(f"| {r['method']} | {r['peak_mib']:,.0f} | {r['peak_mib'] / base['peak_mib']:.2f} | "
              f"{r['state_mib']:,.1f} |")
    if args.json:
        write_file(args.json, json.dumps({"records": records, "steps": args.steps, "batch_size": args.batch_size,
                                         "perturb": args.perturb, "seed": args.seed}, indent=2) + "\n")


if __name__ == "__main__":
    main()
