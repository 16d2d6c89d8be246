"""Golden model of on-the-fly generation: the rotating LFSR array and its exponent look-up table.

Generator g starts `g * stride` steps after the seed along the one LFSR sequence of its width
(stride = (2^b - 1) // n), and takes `leap` steps per word. Register j of the array holds generator (j + t) mod n
at word t, so lane j of word t is that generator's state after leap * t steps, its mantissa being
state - 2^(b-1). The word's exponent is LUT[state of generator 0], which a dedicated reference register tracks in
hardware.
"""
import dataclasses
import functools

import numpy as np
import torch

from . import lfsr
from .scaling import power_of_two_exponents


@functools.lru_cache(maxsize=4)
def reference_sequence(width):
    """(states, position): the sequence from state 1, and each state's index in it (-1 for state 0)."""
    states = lfsr.sequence(width, 1, lfsr.period(width))
    position = np.full(1 << width, -1, dtype=np.int64)
    position[states] = np.arange(states.size)
    return states, position


def stride(spec):
    """Steps between the starting points of neighbouring generators along the sequence."""
    return lfsr.period(spec.width) // spec.generators


def mantissas(states, width):
    """Signed value of each state: state - 2^(width-1), i.e. the state with its top bit inverted."""
    return states.astype(np.int64) - (1 << (width - 1))


def lane_seeds(spec):
    """Initial state of each array register (register j starts as generator j)."""
    states, position = reference_sequence(spec.width)
    origin = position[spec.seed]
    return [int(states[(origin + j * stride(spec)) % states.size]) for j in range(spec.generators)]


@dataclasses.dataclass(frozen=True)
class ExponentTable:
    """exponents[s]: the exponent of every word whose generator 0 is in state s (entry 0 is never read)."""
    exponents: np.ndarray
    low: int
    high: int

    @property
    def exponent_range(self):
        return self.low, self.high

    @property
    def offset_bits(self):
        """Width of a stored entry: the table holds exponent - low."""
        return max(1, (self.high - self.low).bit_length())

    @property
    def offsets(self):
        return self.exponents - self.low


def exponent_table(spec):
    return _exponent_table(spec.generators, spec.width)


@functools.lru_cache(maxsize=8)
def _exponent_table(generators, width):
    states, _ = reference_sequence(width)
    step = states.size // generators
    squares = mantissas(states, width) ** 2
    sum_squares = np.zeros(states.size, dtype=np.int64)
    for g in range(generators):
        sum_squares += np.roll(squares, -g * step)
    nonzero = sum_squares > 0
    by_position = np.zeros(states.size, dtype=np.int64)
    by_position[nonzero] = power_of_two_exponents(sum_squares[nonzero], generators)
    low, high = int(by_position[nonzero].min()), int(by_position[nonzero].max())
    by_position[~nonzero] = low
    exponents = np.full(1 << width, low, dtype=np.int64)
    exponents[states] = by_position
    return ExponentTable(exponents, low, high)


class OtfWords:
    """Integer words of an OtfSpec at any position, vectorised over words and lanes."""

    def __init__(self, spec):
        states, position = reference_sequence(spec.width)
        self.spec = spec
        self.states = torch.from_numpy(states.astype(np.int64))
        self.origin = int(position[spec.seed])
        self.stride = stride(spec)
        self.table = torch.from_numpy(exponent_table(spec).exponents)

    def __call__(self, start, count):
        """(mantissas int64[count, n], exponents int64[count]) of words start .. start + count - 1."""
        n, period = self.spec.generators, self.states.numel()
        t = (start % self.spec.period_words) + torch.arange(count, dtype=torch.int64)
        generator = (t[:, None] + torch.arange(n)) % n
        walked = self.origin + self.spec.leap * t
        index = (walked[:, None] + generator * self.stride) % period
        mantissa = self.states[index] - (1 << (self.spec.width - 1))
        exponent = self.table[self.states[walked % period]]
        return mantissa, exponent
