"""Scenarios for the simulation benches, and the words a correct generator emits under them.

A scenario is a list of operations, each a JSON-able list: ["take", k] lets k words transfer (under random
backpressure), ["replay"], ["next"] and ["reset"] pulse the control inputs. `expected_words` applies the control
semantics of docs/spec.md section 7 to find the stream position of every word the generator must emit.
"""
import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class Scenario:
    """What the bench does: perturbation length (words), ready probability (of 65536), seeds, and operations."""
    length: int
    operations: tuple
    ready_chance: int = 32768
    ready_seed: int = 1

    def to_dict(self):
        return {**dataclasses.asdict(self), "operations": [list(op) for op in self.operations]}

    @staticmethod
    def from_dict(data):
        return Scenario(**{**data, "operations": tuple(tuple(op) for op in data["operations"])})

    @property
    def words(self):
        return sum(op[1] for op in self.operations if op[0] == "take")


def expected_words(scenario):
    """Runs [(first position, first index within its perturbation, count)], one per take, in emission order."""
    start = consumed = 0
    runs = []
    for op in scenario.operations:
        if op[0] == "take":
            if consumed + op[1] > scenario.length:
                raise ValueError(f"take {op[1]} after {consumed} of {scenario.length} words overruns the perturbation")
            runs.append((start + consumed, consumed, op[1]))
            consumed += op[1]
        elif op[0] == "replay":
            consumed = 0
        elif op[0] == "next":
            start, consumed = start + scenario.length, 0
        elif op[0] == "reset":
            start = consumed = 0
        else:
            raise ValueError(f"unknown operation {op!r}: allowed take, replay, next, reset")
    return runs


def zo_steps(length, words, ready_chance=32768, seed=1):
    """The pattern of ZO training, repeated until `words` words have transferred: emit a perturbation, replay it
    twice (once read only halfway), then move on with `next`, which skips the unread half."""
    operations, total = [], 0
    while total < words:
        operations += [("take", length), ("replay",), ("take", length), ("replay",), ("take", length // 2),
                       ("next",)]
        total += 2 * length + length // 2
    return Scenario(length, tuple(operations), ready_chance, seed)


def mixed(length, words, seed=1):
    """Random control traffic: partial and full reads, replays, next after partial and full reads, resets, and
    ready probabilities from always to rare."""
    rng = random.Random(seed)
    operations, total, consumed = [], 0, 0
    while total < words:
        take = rng.choice([length - consumed, rng.randint(0, length - consumed)])
        operations.append(("take", take))
        total, consumed = total + take, consumed + take
        action = rng.choices(["replay", "next", "reset", "none"], weights=[4, 4, 1, 1])[0]
        if action != "none":
            operations.append((action,))
            consumed = 0
    return Scenario(length, tuple(operations), rng.choice([65536, 49152, 16384, 3000]), rng.randint(1, 2**31))
