"""Is a bf16-autocast forward safe for ZO? Forward time and the projected gradient (L+ - L-) / (2 eps) of fp32 and
bf16-autocast forward passes on the same weights, batch and perturbations, in one run.

For each of `--queries` perturbations u (of `--perturb`), the trainable weights are set to theta + eps u and
theta - eps u (restored exactly from a saved copy in between), and each loss is computed in both precisions; the
forward passes of the two precisions alternate, so a noisy machine slows them alike.

    python bench/bf16_forward.py [--queries 8] [--eps 1e-3] [--perturb pezo-otf] [--json out/bf16.json]
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from pezo.files import write_file
from pezo.train import data, models, perturbations, tasks


def measure(queries, eps, perturb, batch_size, seed):
    lm = models.load()
    classifiers = {name: tasks.Classifier(lm, tasks.get("rt"), forward=name) for name in tasks.FORWARDS}
    split = data.few_shot(data.rotten_tomatoes(), 16, seed, 2, test_size=1)
    batch = split.train.take(range(batch_size))
    params = [param for param in lm.model.parameters() if param.requires_grad]
    saved = [param.detach().clone() for param in params]
    source = perturbations.make(perturb, seed=seed)
    times = {name: [] for name in classifiers}
    records = []
    with torch.no_grad():
        for query in range(queries):
            losses = {name: [] for name in classifiers}
            for sign in (1, -1):
                for param, u in zip(params, source.tensors(params)):
                    param.add_(u, alpha=sign * eps)
                for name, classifier in classifiers.items():
                    begin = time.perf_counter()
                    losses[name].append(classifier.loss((batch.texts, batch.labels)).item())
                    times[name].append(time.perf_counter() - begin)
                for param, copy in zip(params, saved):
                    param.copy_(copy)
            source.next(sum(param.numel() for param in params))
            grads = {name: (plus - minus) / (2 * eps) for name, (plus, minus) in losses.items()}
            records.append({"query": query, "losses": losses, "projected_grad": grads})
            print(f"query {query}: projected gradient fp32 {grads['fp32']:+.5f}  bf16 {grads['bf16']:+.5f}", flush=True)
    forward = {name: statistics.median(values) for name, values in times.items()}
    fp32 = [record["projected_grad"]["fp32"] for record in records]
    bf16 = [record["projected_grad"]["bf16"] for record in records]
    return {
        "weights": sum(param.numel() for param in params), "batch_size": batch_size, "eps": eps,
        "perturb": perturb, "seed": seed, "threads": torch.get_num_threads(),
        "forward_seconds": forward, "bf16_time_ratio": forward["bf16"] / forward["fp32"],
        "sign_agreement": sum((a > 0) == (b > 0) for a, b in zip(fp32, bf16)) / len(records),
        "relative_error_median": statistics.median(abs(b - a) / abs(a) for a, b in zip(fp32, bf16) if a),
        "loss_difference_median": statistics.median(abs(r["losses"]["bf16"][0] - r["losses"]["fp32"][0])
                                                    for r in records),
        "queries": records,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--perturb", default="pezo-otf", choices=perturbations.NAMES)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the records as JSON here")
    args = parser.parse_args()
    result = measure(args.queries, args.eps, args.perturb, args.batch_size, args.seed)
    print(f"{result['weights']:,} weights, batch {args.batch_size}, eps {args.eps}, {args.perturb}, "
          f"{result['threads']} threads, {args.queries} queries")
    print(f"forward s (median): fp32 {result['forward_seconds']['fp32']:.3f}, bf16 autocast "
          f"{result['forward_seconds']['bf16']:.3f} (ratio {result['bf16_time_ratio']:.2f})")
    print(f"projected gradient: signs agree in {result['sign_agreement']:.0%} of queries; median relative "
          f"difference {result['relative_error_median']:.3f}; median |L+ bf16 - L+ fp32| "
          f"{result['loss_difference_median']:.2e}")
    if args.json:
        write_file(args.json, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
