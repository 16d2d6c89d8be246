"""Scenarios for the simulation benches, and the words a correct generator emits under them.

A scenario is a list of operations, each a JSON-able list: ["take", k] lets k more words transfer,
["chance", c] sets the probability that ready is high to c / 65536, ["length", n] sets the length input (taken up
when a perturbation next starts), ["hop", h] the hop input of a generator that has one (taken up by every later
`next`), and ["replay"], ["next"] and ["reset"] pulse the control inputs. `expected_words` applies the control
semantics of docs/spec.md section 7 to find the stream position of every word the generator must emit.
"""
import dataclasses
import random

ALWAYS = 65536


@dataclasses.dataclass(frozen=True)
class Scenario:
    """What a bench does: the initial perturbation length in words, the seed of the random ready, and the
    operations."""
    length: int
    operations: tuple
    ready_seed: int = 1

    def to_dict(self):
        return {**dataclasses.asdict(self), "operations": [list(op) for op in self.operations]}

    @staticmethod
    def from_dict(data):
        return Scenario(**{**data, "operations": tuple(tuple(op) for op in data["operations"])})

    @property
    def words(self):
        return sum(op[1] for op in self.operations if op[0] == "take")

    def __add__(self, other):
        """This scenario, then a reset and the other one (with its own length)."""
        joint = (("length", other.length), ("reset",))
        return Scenario(self.length, self.operations + joint + other.operations, self.ready_seed)


def expected_words(scenario):
    """Runs [(first position, first index within its perturbation, count, perturbation length)], one per take,
    in emission order."""
    start = consumed = hop = 0
    length = pending = scenario.length
    runs = []
    for op in scenario.operations:
        if op[0] == "take":
            if consumed + op[1] > length:
                raise ValueError(f"take {op[1]} after {consumed} of {length} words overruns the perturbation")
            runs.append((start + consumed, consumed, op[1], length))
            consumed += op[1]
        elif op[0] == "length":
            pending = op[1]
        elif op[0] == "hop":
            hop = op[1]
        elif op[0] == "replay":
            consumed, length = 0, pending
        elif op[0] == "next":
            start, consumed, length = start + length + hop, 0, pending
        elif op[0] == "reset":
            start, consumed, length = 0, 0, pending
        elif op[0] != "chance":
            raise ValueError(f"unknown operation {op!r}: allowed take, chance, length, hop, replay, next, reset")
    return runs


def zo_steps(length, words, chance=ALWAYS // 2, seed=1):
    """The pattern of ZO training for exactly `words` words: emit a perturbation, replay it twice (reading it only
    halfway the second time), then move on with `next`, which skips the unread half; again and again."""
    if words and not length:
        raise ValueError(f"length={length}: a perturbation of 0 words cannot carry {words} words")
    pattern = [("take", length), ("replay",), ("take", length), ("replay",), ("take", length // 2), ("next",)]
    operations, total = [("chance", chance)], 0
    while total < words:
        for op in pattern:
            if op[0] == "take":
                op = ("take", min(op[1], words - total))
                total += op[1]
            operations.append(op)
            if total == words:
                break
    return Scenario(length, tuple(operations), seed)


def mixed(length, words, seed=1):
    """Random control traffic until `words` words have transferred: partial and full reads, replays, next after
    partial and full reads, resets in the middle of a perturbation, and ready from always to rare."""
    rng = random.Random(seed)
    operations, total, consumed = [], 0, 0
    while total < words:
        if rng.random() < 0.2:
            operations.append(("chance", rng.choice([ALWAYS, 49152, 16384, 2000])))
        take = rng.choice([length - consumed, rng.randint(0, length - consumed)])
        operations.append(("take", take))
        total, consumed = total + take, consumed + take
        action = rng.choices(["replay", "next", "reset", None], weights=[4, 4, 1, 1])[0]
        if action:
            operations.append((action,))
            consumed = 0
    return Scenario(length, tuple(operations), rng.randint(1, 2**31))
