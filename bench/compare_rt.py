"""Few-shot Rotten Tomatoes fine-tuning of the default model: ZO methods x perturbation sources, compared.

Every (method, source) pair gets the same seeds, steps and hyperparameters, except a per-method lr where given
(--method-lr). Runs go seed by seed (every pair for the first seed, then the next), each into
<out>/<method>-<source>-seed<s>/ (its weights are deleted after its summary is written, to save disk;
metrics.jsonl, summary.json and plot.png stay). A run whose summary.json exists is not run again, so
an interrupted comparison continues where it stopped. Each seed also gets a zero-shot reference: the same split,
evaluated with no ZO step. The table (markdown) is printed and written to table.md.

The defaults are the source comparison in docs/results.md (ZO-SGD, about 2 hours on a 2-core CPU). A quick look,
and the method comparison of docs/results.md (LoRA):

    python bench/compare_rt.py --out out/compare_rt_quick --steps 20 --batch-size 8 --eval-every 10 --test-size 200
    python bench/compare_rt.py --out out/compare_methods --methods all --sources gaussian pezo-otf-31x8 \
        pezo-pool-4095x12 --peft lora --seeds 0 --steps 40 --eval-every 20 --test-size 500 --lr 1e-4 --eps 1e-2 \
        --method-lr zo-sgd-sign=2e-5 zo-adam=2e-5 --method-arg dizo.interval=20
"""
import argparse
import dataclasses
import json
import math
import statistics
import time
from pathlib import Path

import pezo.train as zo
from pezo.files import discard, write_file
from pezo.golden import PAPER_DEFAULTS
from pezo.train.config import Config
from pezo.train.loop import Run

ZERO_SHOT = "zero-shot (no ZO step)"
SOURCES = {
    "gaussian": ("gaussian", None),
    "pezo-pool-4095x12": ("pezo-pool", "pool-4095x12"),
    "pezo-otf-31x8": ("pezo-otf", "otf-31x8"),
    "pezo-otf-31x14": ("pezo-otf", "otf-31x14"),
    "uniform-raw-31x8": ("uniform-raw", "otf-31x8"),
}
LOSS_WINDOW = 10  # an even count: with k=16 and batch 16 the batches alternate between two halves


def run_one(out, method, perturb, preset, seed, args, steps):
    """The summary of one run, from a finished run in `out` with the same settings, or else from a fresh run."""
    spec = PAPER_DEFAULTS[preset].to_dict() if preset else None
    config = Config(out=str(out), k=args.k, test_size=args.test_size, perturb=perturb, spec=spec, steps=steps,
                    lr=args.method_lr.get(method, args.lr), eps=args.eps, batch_size=args.batch_size,
                    eval_every=args.eval_every, seed=seed, method=method, peft=args.peft,
                    method_args=args.method_arg.get(method, {}))
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    if "wall_seconds" in summary:               # finished, and measured by this script (not cut short)
        asked = {key: value for key, value in dataclasses.asdict(config).items()
                 if key != "out" and summary.get(key) != value}
        if asked:
            held = {key: summary.get(key) for key in asked}
            raise SystemExit(f"{out} holds a finished run with {held}, not {asked}: give another --out")
        return summary
    discard(out)                                # a run that did not finish: pezo's own, redone
    begin = time.perf_counter()
    run = Run(config, progress_bar=False)
    run.start()
    summary = run.train()
    summary["wall_seconds"] = time.perf_counter() - begin
    write_file(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    for folder in ("best", "checkpoint"):
        discard(out / folder)
    return summary


def measures(out):
    """From a run's metrics: the train loss (the step's estimate of L(theta)) per step and its mean over the first and
    the last
    LOSS_WINDOW steps, the median step seconds, and the dev accuracy at the first and last evaluations."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "seconds" in r]
    evals = [r for r in records if r.get("event") == "eval"]
    losses = [r["loss"] for r in steps]
    nan = float("nan")
    return {"losses": losses,
            "step_seconds": statistics.median(r["seconds"] for r in steps) if steps else nan,
            "first_dev": evals[0]["dev_accuracy"], "final_dev": evals[-1]["dev_accuracy"],
            "first_loss": statistics.mean(losses[:LOSS_WINDOW]) if steps else nan,
            "final_loss": statistics.mean(losses[-LOSS_WINDOW:]) if steps else nan}


def shown(value, spec):
    """A number as `spec` ("loss": 3 decimals, or 3 digits and an exponent from 1000 on), or a dash for a measure
    a run does not have (a zero-shot run has no steps)."""
    if math.isnan(value):
        return "–"
    return format(value, ".2e" if spec == "loss" and value >= 1000 else ".3f" if spec == "loss" else spec)


def joined(values, spec):
    return ", ".join(shown(value, spec) for value in values)


def dev_at(summary):
    return f"{summary['best_dev_accuracy']:.3f}@{summary['best_step']}"


def table(rows, args):
    lines = ["| method / source | test accuracy (dev-selected), mean ± spread | per seed | dev at step 0 | "
             "best dev @ step | "
             f"dev at end | train loss, first {LOSS_WINDOW} steps | train loss, last {LOSS_WINDOW} steps | "
             "median step s | wall s per run | stopped |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, runs in rows.items():
        tests = [summary["test_accuracy"] for summary, _ in runs]
        spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
        lines.append(f"| {label} | {statistics.mean(tests):.3f} ± {spread:.3f} | "
                     f"{joined(tests, '.3f')} | {joined([m['first_dev'] for _, m in runs], '.3f')} | "
                     f"{', '.join(dev_at(summary) for summary, _ in runs)} | "
                     f"{joined([m['final_dev'] for _, m in runs], '.3f')} | "
                     f"{joined([m['first_loss'] for _, m in runs], 'loss')} | "
                     f"{joined([m['final_loss'] for _, m in runs], 'loss')} | "
                     f"{shown(statistics.median(m['step_seconds'] for _, m in runs), '.1f')} | "
                     f"{statistics.mean(s['wall_seconds'] for s, _ in runs):.0f} | "
                     f"{sum(bool(s['stopped']) for s, _ in runs)}/{len(runs)} |")
    lines.append(f"\nseeds {args.seeds}, k={args.k} per class, steps {args.steps}, batch {args.batch_size}, "
                 f"lr {args.lr} (per method: {args.method_lr or 'none'}), method arguments "
                 f"{args.method_arg or 'none'}, eps {args.eps}, peft {args.peft or 'none'}, eval every "
                 f"{args.eval_every}, test set {args.test_size}; "
                 f"spread = sample standard deviation over seeds; per-seed columns list seeds in order.")
    return "\n".join(lines)


def loss_windows(rows, width):
    """Markdown table: the mean train loss over each window of `width` steps, per source and seed."""
    steps = max(len(m["losses"]) for runs in rows.values() for _, m in runs)
    starts = range(0, steps, width)
    lines = ["| method / source | seed | "
             + " | ".join(f"steps {a + 1}-{min(a + width, steps)}" for a in starts) + " |",
             "|---|---|" + "---|" * len(starts)]
    for label, runs in rows.items():
        for summary, m in runs:
            if m["losses"]:
                windows = [statistics.mean(m["losses"][a:a + width]) for a in starts]
                lines.append(f"| {label} | {summary['seed']} | {' | '.join(shown(w, 'loss') for w in windows)} |")
    return "\n".join(lines)


def parse_overrides(args):
    """--method-lr METHOD=LR and --method-arg METHOD.NAME=VALUE as {method: lr} and {method: {name: value}}."""
    rates, arguments = {}, {}
    for item in args.method_lr:
        method, _, rate = item.partition("=")
        rates[known(method).name] = float(rate)
    for item in args.method_arg:
        key, _, text = item.partition("=")
        method, _, name = key.partition(".")
        argument = known(method).arguments.get(name)
        if argument is None:
            raise SystemExit(f"--method-arg {item}: {method} has no argument {name!r}: allowed "
                             f"{', '.join(zo.METHODS[method].arguments) or 'none'}")
        arguments.setdefault(method, {})[name] = argument.parse(text)
    return rates, arguments


def known(method):
    """The registered method called `method`, or a one-line stop naming what is allowed."""
    if method not in zo.METHODS:
        raise SystemExit(f"method {method!r} is unknown: allowed {', '.join(zo.METHODS)}")
    return zo.METHODS[method]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/compare_rt_120"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--methods", nargs="+", default=["zo-sgd"], help="ZO methods, or 'all' (default zo-sgd)")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=list(SOURCES),
                        help="perturbation sources (default all)")
    parser.add_argument("--peft", choices=["lora", "prefix"], help="train an adapter (default: all weights)")
    parser.add_argument("--method-lr", nargs="+", default=[], metavar="METHOD=LR", help="per-method lr")
    parser.add_argument("--method-arg", nargs="+", default=[], metavar="METHOD.NAME=VALUE",
                        help="a method's argument, e.g. dizo.interval=20")
    args = parser.parse_args()
    args.methods = list(zo.METHODS) if args.methods == ["all"] else args.methods
    args.method_lr, args.method_arg = parse_overrides(args)
    rows = {ZERO_SHOT: [], **{f"{m} / {s}": [] for m in args.methods for s in args.sources}}
    for seed in args.seeds:
        plan = [(f"{method} / {label}", f"{method}-{label}", method, *SOURCES[label], args.steps)
                for method in args.methods for label in args.sources]
        for label, name, method, perturb, preset, steps in plan + [(ZERO_SHOT, "zero-shot", "zo-sgd", "gaussian",
                                                                     None, 0)]:
            out = args.out / f"{name}-seed{seed}"
            summary = run_one(out, method, perturb, preset, seed, args, steps)
            rows[label].append((summary, measures(out)))
            print(f"{label} seed {seed}: test {summary['test_accuracy']:.3f}, best dev "
                  f"{summary['best_dev_accuracy']:.3f} at step {summary['best_step']}, "
                  f"{summary['wall_seconds']:.0f} s{', ' + summary['stopped'] if summary['stopped'] else ''}",
                  flush=True)
    total = sum(summary["wall_seconds"] for runs in rows.values() for summary, _ in runs)
    text = (table(rows, args) + f"\nTotal wall time of the {sum(map(len, rows.values()))} runs: {total:.0f} s.\n\n"
            f"Train loss (L(theta) where a method evaluates it, else the mean of L+ and L-), averaged over windows "
            f"of {args.eval_every} steps:\n\n"
            + loss_windows(rows, args.eval_every))
    write_file(args.out / "table.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
