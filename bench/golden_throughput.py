"""Values per second of the golden perturbation stream beside torch.randn, measured in one run.

Usage: python bench/golden_throughput.py [--values N] [--repeats R]

Each strategy produces the same count of float32 values as one torch.randn call; the rounds alternate between
sources so that machine noise hits them alike, and the median of each is reported with its ratio to torch.randn.
The one-time set-up (sequence, exponent table, pool, the cached period) is reported separately.
"""
import argparse
import statistics
import time

import torch

from pezo.golden import PAPER_DEFAULTS, PoolSpec, Stream


def timed(function):
    begin = time.perf_counter()
    function()
    return time.perf_counter() - begin


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1 << 24)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    specs = {**PAPER_DEFAULTS, "pool-4095x12-l5": PoolSpec(size=4095, bits=12, lanes=5)}
    streams, setup = {}, {}
    for name, spec in specs.items():
        setup[name] = timed(lambda: streams.__setitem__(name, Stream(spec)) or streams[name].values(0, 1))
    out = torch.empty(args.values)
    sources = {"torch.randn": lambda: torch.randn(args.values, out=out)}
    for name, stream in streams.items():
        sources[name] = lambda stream=stream: stream.values(12345, args.values, out=out)
    seconds = {name: [] for name in sources}
    for _ in range(args.repeats):
        for name, run in sources.items():
            seconds[name].append(timed(run))

    print(f"{args.values} float32 values per call, median of {args.repeats} alternating rounds, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'source':<18} {'values/s':>12} {'x randn':>8} {'set-up s':>9}")
    base = statistics.median(seconds["torch.randn"])
    for name, times in seconds.items():
        median = statistics.median(times)
        setup_text = f"{setup[name]:9.2f}" if name in setup else f"{'-':>9}"
        print(f"{name:<18} {args.values / median:12.3e} {base / median:8.2f} {setup_text}")


if __name__ == "__main__":
    main()
