"""Steps per second of the top-N protocol on this CPU: one process with a thread per core, against one process
per core with one thread each (a sweep's shards, `OMP_NUM_THREADS=1 pezo sweep run --shard i/n`), in one run.

Each worker loads the default model, sets up a top-N MeZO step as bench/top_blocks.py does (batch 16, lr 0, its
kept states computed in an untimed warm-up step), says it is ready and, once every worker of its layout is, times
`--steps` steps, so that concurrent workers run side by side throughout. Rounds alternate the two layouts, so that
a noisy machine slows them alike; the aggregate rate of a layout is the sum over its workers of steps / time.

    python bench/shard_throughput.py [--perturb gaussian pezo-otf] [--steps 40] [--rounds 2] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from pezo.files import write_file


def worker(perturb, steps, blocks):
    """Print the seconds of `steps` timed steps as JSON (runs in a child process)."""
    sys.path.insert(0, os.path.dirname(__file__))
    from top_blocks import setup
    from pezo.train import data
    split = data.few_shot(data.rotten_tomatoes(), 16, 0, 2, test_size=1)
    batch = split.train.take(range(16))
    step, _, _ = setup(blocks, perturb, (batch.texts, batch.labels))
    print("ready", flush=True)
    sys.stdin.readline()                                                # every worker is ready: start together
    begin = time.perf_counter()
    for _ in range(steps):
        step()
    print(json.dumps({"seconds": time.perf_counter() - begin}))


def layout(perturb, steps, blocks, processes, threads):
    """Aggregate steps per second of `processes` concurrent workers of `threads` threads each."""
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--worker", "--perturb", perturb, "--steps", str(steps),
               "--blocks", str(blocks)]
    children = [subprocess.Popen(command, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    for child in children:
        while child.stdout.readline().strip() not in ("ready", ""):       # its model's loading may print first
            pass
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate()[0] for child in children]
    if any(child.returncode for child in children):
        raise SystemExit(f"a worker failed ({perturb}, {processes} x {threads} threads)")
    return sum(steps / json.loads(output.splitlines()[-1])["seconds"] for output in outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perturb", nargs="+", default=["gaussian", "pezo-otf"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="also write the rates as JSON here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.perturb[0], args.steps, args.blocks)
        return
    cores = os.cpu_count() or 1
    layouts = {"one process": (1, cores), "shards": (cores, 1)}
    results = []
    for perturb in args.perturb:
        rates = {name: [] for name in layouts}
        for _ in range(args.rounds):
            for name, (processes, threads) in layouts.items():
                rates[name].append(layout(perturb, args.steps, args.blocks, processes, threads))
        one, shards = (statistics.median(rates[name]) for name in layouts)
        results.append({"perturb": perturb, "top_blocks": args.blocks, "cores": cores, "rates": rates,
                        "one_process": one, "shards": shards, "ratio": shards / one})
        print(f"{perturb:10s} top {args.blocks}: 1 process x {cores} threads {one:.2f} steps/s, {cores} shards x 1 "
              f"thread {shards:.2f} steps/s together: {shards / one:.2f}x")
    if args.json:
        write_file(args.json, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
