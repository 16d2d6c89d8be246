"""Time a ZO step of the top-N protocol (train/top.py) against a full-model step on the default model, in one run.

Each round times one step of every setup in turn (the full model, then top N for each N, and with --answer-row each
N again with its last block at the answer position only, with --packed each of those again with the batch's prompts
end to end instead of left-padded), so that a noisy machine slows them alike; the median step
of each and its speed-up over the full model are reported. A step is MeZO's:
two forward passes and four passes over the trainable weights (+eps, -2 eps, +eps, update), lr 0 so that every
round starts from the same weights. The top-N setups compute their kept states in a warm-up step, not timed (a
run pays it once per example). Each setup's per-example losses on the batch, before any step, are compared with
the full model's (the largest absolute difference).

    python bench/top_blocks.py [--blocks 2 4] [--perturb gaussian pezo-otf] [--rounds 5] [--answer-row] [--packed]
                               [--json FILE]
"""
import argparse
import json
import statistics
import time

from pezo.files import write_file
from pezo.train import ZOSGD, adapters, data, models, perturbations, tasks, top


def setup(blocks, perturb, batch, answer_row=False, packed=False):
    """(step function, trainable values, per-example losses, classifier) of the full model (blocks 0) or its top
    `blocks` blocks (the last at the answer position only with `answer_row`, the prompts end to end with
    `packed`)."""
    lm = adapters.adapt(models.load(), None, top_blocks=blocks)
    task = tasks.get("rt")
    classifier = (top.TopClassifier(lm, task, blocks, answer_row=answer_row, packed=packed) if blocks
                  else tasks.Classifier(lm, task))
    losses = classifier.losses(batch)
    optimizer = ZOSGD(lm.model, perturbations.make(perturb), lr=0.0, eps=1e-3)
    optimizer.step(lambda: classifier.loss(batch))                   # warm-up: kept states, stream period
    return ((lambda: optimizer.step(lambda: classifier.loss(batch))), sum(p.numel() for p in optimizer.params),
            losses, classifier)


def prompt_share(classifier, texts):
    """The share of a left-padded batch's token rows that hold its prompts (the rest is padding)."""
    lengths = [len(ids) for ids in classifier.lm.tokenizer(classifier.prompts(texts)).input_ids]
    return sum(lengths) / (len(lengths) * max(lengths))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--perturb", nargs="+", default=["gaussian", "pezo-otf"], choices=perturbations.NAMES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--answer-row", action="store_true", help="also time each N with --answer-row")
    parser.add_argument("--packed", action="store_true", help="also time each of those with --packed")
    parser.add_argument("--json", help="also write the medians as JSON here")
    args = parser.parse_args()
    split = data.few_shot(data.rotten_tomatoes(), 16, 0, 2, test_size=1)
    batch = split.train.take(range(args.batch_size))
    batch = (batch.texts, batch.labels)
    results, share = [], None
    for perturb in args.perturb:
        kinds = [(0, False, False)] + [(blocks, answer, packed) for blocks in args.blocks
                                       for answer in ([False, True] if args.answer_row else [False])
                                       for packed in ([False, True] if args.packed else [False])]
        setups = {kind: setup(kind[0], perturb, batch, answer_row=kind[1], packed=kind[2]) for kind in kinds}
        if share is None:
            share = prompt_share(setups[0, False, False][3], batch[0])
            print(f"prompts fill {share:.0%} of the padded batch's token rows")
        times = {kind: [] for kind in setups}
        for _ in range(args.rounds):
            for kind, (step, _, _, _) in setups.items():
                begin = time.perf_counter()
                step()
                times[kind].append(time.perf_counter() - begin)
        full = statistics.median(times[0, False, False])
        for (blocks, answer, packed), (_, values, losses, _) in setups.items():
            median = statistics.median(times[blocks, answer, packed])
            difference = (losses - setups[0, False, False][2]).abs().max().item()
            results.append({"perturb": perturb, "top_blocks": blocks, "answer_row": answer, "packed": packed,
                            "trainable": values, "step_seconds": median, "speedup": full / median,
                            "rounds": times[blocks, answer, packed], "loss_difference": difference,
                            "prompt_share": share})
            name = "full model" if blocks == 0 else (f"top {blocks} blocks" + (", answer row" if answer else "")
                                                     + (", packed" if packed else ""))
            print(f"{perturb:12s} {name:34s} "
                  f"{values:>12,} trainable  step {median:.3f} s  speed-up {full / median:.1f}x  "
                  f"max |loss - full model's| {difference:.2g}")
    if args.json:
        write_file(args.json, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
