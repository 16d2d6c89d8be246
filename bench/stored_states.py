"""Time the top-N protocol's frozen part computed against read back from pezo's cache (train/top.py StoredStates).

On the default model with N = 2: the states entering block 28 for the first `--prompts` training prompts of the
protocol's data (k 256, seed 0), computed (and stored) in a fresh cache folder, then read back as a new process
would (the in-memory states dropped). Reports seconds per prompt of each, their ratio and the stored bytes per
prompt. A process of the protocol needs about 3,000 prompts per seed (512 training, 512 dev, 2,000 test).

    python bench/stored_states.py [--prompts 200] [--json FILE]
"""
import argparse
import json
import os
import tempfile
import time

from pezo.files import write_file
from pezo.train import data, models, tasks, top


def timed(classifier, prompts):
    """Seconds per prompt of the states of `prompts`, the store's digest of the frozen weights taken before."""
    classifier.store
    begin = time.perf_counter()
    for prompt in prompts:
        classifier.states(prompt)
    return (time.perf_counter() - begin) / len(prompts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()
    lm, task = models.load(), tasks.get("rt")
    split = data.few_shot(data.rotten_tomatoes(), 256, 0, 2, test_size=1)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["PEZO_CACHE"] = cache
        prompts = top.TopClassifier(lm, task, 2).prompts(split.train.texts[:args.prompts])
        computed = timed(top.TopClassifier(lm, task, 2), prompts)
        top.KEPT.clear()
        top.STORES.clear()
        reader = top.TopClassifier(lm, task, 2)
        read = timed(reader, prompts)
        stored = sum(path.stat().st_size for path in reader.store.folder.iterdir()) / len(prompts)
    result = {"prompts": len(prompts), "computed_seconds": computed, "read_seconds": read,
              "speedup": computed / read, "bytes_per_prompt": stored}
    print(f"{len(prompts)} prompts: computed {computed * 1e3:.1f} ms, read {read * 1e3:.2f} ms per prompt "
          f"({computed / read:.0f}x); {stored / 1e3:.0f} kB stored per prompt")
    if args.json:
        write_file(args.json, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
