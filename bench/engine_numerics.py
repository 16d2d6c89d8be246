"""The engine's numerics against MeZO's in-place passes on the default model (134,515,008 weights), in one run.

- Drift: `--drift-steps` ZO-SGD steps with lr = 0, so that a step's only effect on the weights is the rounding of
  its passes; in place (+eps, -2 eps, +eps) the weights may drift, with the engine they cannot. Measured for MeZO
  itself (gaussian u, eps 1e-3), for in-place passes with pezo-otf 31x8 and eps 2^-10, and for the engine (fp32 and
  bf16 weights, the same source and eps). Reported: weights that differ from the start, and the largest and median
  relative change among them. The closure returns a constant (no forward pass is needed to see the rounding).
- Step time: full steps (two forward passes on a batch of 16 Rotten Tomatoes examples) for in-place, engine (fp32
  weights) and engine-bf16, the three alternating for `--rounds` rounds; the median per kind.

    python bench/engine_numerics.py --drift-steps 20 --rounds 2 --json out/engine_numerics.json
"""
import argparse
import json
import statistics
import time

import torch

from pezo.files import write_file
from pezo.golden import PAPER_DEFAULTS
from pezo.train import data, models, perturbations, tasks, zo
from pezo.train.engine import NUMERICS as KINDS, EngineNumerics

EPS = 2.0 ** -10
DRIFTS = (("in-place", "gaussian", 1e-3), ("in-place", "pezo-otf", EPS), ("engine", "pezo-otf", EPS),
          ("engine-bf16", "pezo-otf", EPS))


def optimizer(model, kind, lr, spec, perturb="pezo-otf", eps=EPS):
    source = perturbations.make(perturb, spec=spec if perturb == "pezo-otf" else None)
    made = zo.make("zo-sgd", model, source, lr=lr, eps=eps)
    if KINDS[kind]:
        made.numerics = EngineNumerics(made, model, KINDS[kind])
    return made


def drift(model, kind, steps, spec, perturb, eps):
    start = [param.detach().clone() for param in model.parameters()]
    made = optimizer(model, kind, 0.0, spec, perturb, eps)
    rounded = [param.detach().clone() for param in model.parameters()]     # the format's own rounding, once
    constant = torch.tensor(0.5)
    for _ in range(steps):
        made.step(lambda: constant)
    changed, relative = 0, []
    for param, before in zip(model.parameters(), rounded):
        moved = param.detach() != before
        changed += int(moved.sum())
        if moved.any():
            relative.append(((param.detach() - before).abs() / before.abs().clamp_min(1e-30))[moved])
    with torch.no_grad():
        for param, before in zip(model.parameters(), start):
            param.copy_(before)
    ratios = torch.cat(relative) if relative else torch.zeros(0)
    return {"changed": changed, "max_relative": float(ratios.max()) if len(ratios) else 0.0,
            "median_relative": float(ratios.median()) if len(ratios) else 0.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drift-steps", type=int, default=20, help="0: step times only")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    spec = PAPER_DEFAULTS["otf-31x8"]
    lm = models.load()
    weights = sum(param.numel() for param in lm.model.parameters())
    results = {"weights": weights, "drift_steps": args.drift_steps, "eps": EPS, "threads": torch.get_num_threads(),
               "drift": {}, "step_seconds": {}}
    for kind, perturb, eps in DRIFTS if args.drift_steps else ():
        name = f"{kind} {perturb} eps {eps:g}"
        results["drift"][name] = drift(lm.model, kind, args.drift_steps, spec, perturb, eps)
        print(f"drift after {args.drift_steps} steps ({name}): {results['drift'][name]}", flush=True)
    split = data.few_shot(data.rotten_tomatoes(), 16, 0, 2, 100)
    batch = (split.train.texts[:16], split.train.labels[:16])
    classifier = tasks.Classifier(lm, tasks.get("rt"))
    start = [param.detach().clone() for param in lm.model.parameters()]
    times = {kind: [] for kind in KINDS}
    for _ in range(args.rounds):
        for kind in KINDS:
            made = optimizer(lm.model, kind, 1e-6, spec)
            begin = time.perf_counter()
            made.step(lambda: classifier.loss(batch))
            times[kind].append(time.perf_counter() - begin)
            with torch.no_grad():
                for param, before in zip(lm.model.parameters(), start):
                    param.copy_(before)
    base = statistics.median(times["in-place"])
    for kind in KINDS:
        seconds = statistics.median(times[kind])
        results["step_seconds"][kind] = {"median": seconds, "ratio": seconds / base, "all": times[kind]}
        print(f"step ({kind}): median {seconds:.3f} s, {seconds / base:.2f}x in-place", flush=True)
    if args.json:
        write_file(args.json, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
