"""Time one ZO step per perturbation source on the default model and a default batch, in one run.

Sources are timed in alternating rounds (gaussian, rademacher, ..., then again) so that a noisy, shared machine
slows them alike; the median of each is reported with its ratio to gaussian. A step is two forward passes plus four
passes over the weights (+eps, -2 eps, +eps, update); the "pass" column times one of those weight passes alone
(generating u and adding it), the part the source decides.

    python bench/zo_step.py [--rounds 5] [--batch-size 16] [--json out/bench_zo_step.json]
"""
import argparse
import json
import statistics
import time

import torch

from pezo.files import write_file
from pezo.golden import PAPER_DEFAULTS, CltSpec
from pezo.train import data, models, perturbations, tasks
from pezo.train import ZOSGD

SOURCES = {
    "gaussian": ("gaussian", None),
    "rademacher": ("rademacher", None),
    "uniform": ("uniform", None),
    "uniform-raw": ("uniform-raw", None),
    "clt-gaussian 1024": ("clt-gaussian", CltSpec()),
    "pezo-pool 4095x12": ("pezo-pool", PAPER_DEFAULTS["pool-4095x12"]),
    "pezo-otf 31x8": ("pezo-otf", PAPER_DEFAULTS["otf-31x8"]),
    "pezo-otf 31x14": ("pezo-otf", PAPER_DEFAULTS["otf-31x14"]),
}


def timed(function):
    begin = time.perf_counter()
    function()
    return time.perf_counter() - begin


@torch.no_grad()
def weight_pass(zo):
    """One pass over the weights as a step makes it (u generated, scaled, added), adding 0 * u."""
    for param, u in zip(zo.params, zo.source.tensors(zo.params)):
        param.add_(u.mul_(0.0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the medians as JSON here")
    args = parser.parse_args()

    lm = models.load()
    classifier = tasks.Classifier(lm, tasks.get("rt"))
    split = data.few_shot(data.rotten_tomatoes(), 16, args.seed, 2, test_size=1)
    batch = split.train.take(range(args.batch_size))
    batch = (batch.texts, batch.labels)
    # lr = 0: every source starts its steps from the same weights (up to the +eps -2eps +eps rounding).
    optimizers = {label: ZOSGD(lm.model, perturbations.make(name, seed=args.seed, spec=spec), lr=0.0, eps=1e-3)
                  for label, (name, spec) in SOURCES.items()}
    step_times = {label: [] for label in optimizers}
    pass_times = {label: [] for label in optimizers}
    for zo in optimizers.values():     # warm-up: period blocks, allocator
        zo.step(lambda: classifier.loss(batch))
    for _ in range(args.rounds):
        for label, zo in optimizers.items():
            step_times[label].append(timed(lambda: zo.step(lambda: classifier.loss(batch))))
            pass_times[label].append(timed(lambda: weight_pass(zo)))

    step = {label: statistics.median(times) for label, times in step_times.items()}
    passes = {label: statistics.median(times) for label, times in pass_times.items()}
    print(f"ZO step on {lm.name} ({optimizers['gaussian'].values:,} weights), batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, median of {args.rounds} alternating rounds")
    print(f"{'source':<20}{'step s':>9}{'ratio':>8}{'pass s':>9}{'ratio':>8}")
    for label in optimizers:
        print(f"{label:<20}{step[label]:>9.3f}{step[label] / step['gaussian']:>8.2f}"
              f"{passes[label]:>9.3f}{passes[label] / passes['gaussian']:>8.2f}")
    if args.json:
        write_file(args.json, json.dumps({"step_seconds": step, "pass_seconds": passes, "batch_size":
                                          args.batch_size, "rounds": args.rounds, "seed": args.seed}, indent=2))


if __name__ == "__main__":
    main()
