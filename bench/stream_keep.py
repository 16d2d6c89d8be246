"""A top-N ZO step with a long-period stream (clt-gaussian) keeping its latest chunks, against not keeping them.

The golden stream keeps the chunks of a stream without a period block (golden/stream.py KEPT_VALUES), so that the
four passes of a MeZO step compute the perturbation once. Each round times one step of each setup in turn (the
same top-N setup as bench/top_blocks.py, lr 0), the one with KEPT_VALUES set to 0 first; medians are reported.

    python bench/stream_keep.py [--perturb clt-gaussian] [--blocks 2] [--rounds 5]
"""
import argparse
import os
import statistics
import sys
import time

from pezo.golden import stream
from pezo.train import data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perturb", default="clt-gaussian")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    from top_blocks import setup
    split = data.few_shot(data.rotten_tomatoes(), 16, 0, 2, test_size=1)
    batch = split.train.take(range(16))
    kept, steps = stream.KEPT_VALUES, {}
    for keep in (False, True):                              # the warm-up step keeps nothing in the first
        stream.KEPT_VALUES = kept if keep else 0
        steps[keep] = setup(args.blocks, args.perturb, (batch.texts, batch.labels))[0]
    times = {keep: [] for keep in steps}
    for _ in range(args.rounds):
        for keep, step in steps.items():
            stream.KEPT_VALUES = kept if keep else 0
            begin = time.perf_counter()
            step()
            times[keep].append(time.perf_counter() - begin)
    without, keeping = (statistics.median(times[keep]) for keep in (False, True))
    print(f"{args.perturb} top {args.blocks}: step {without:.3f} s computing every pass, {keeping:.3f} s keeping "
          f"the chunks: {without / keeping:.2f}x")


if __name__ == "__main__":
    main()
