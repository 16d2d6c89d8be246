"""Golden model of the pre-generated pool: its offline contents and cyclic, word-aligned reads.

Contents: splitmix64(seed) draws, quantised to 2^bits uniform midpoints in (-1, 1), scaled as one vector to the
expected Gaussian modulus E_size (PeZO Eq. 3), then stored as `bits`-bit signed mantissas with one exponent.
Reads: word w, lane j is entry (w mod D) * lanes + j, D = size / lanes; lane j's entries form BRAM bank j.
"""
import dataclasses
import functools
import math

import numpy as np
import torch

from .scaling import gaussian_modulus

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def splitmix64(seed, count):
    """The first `count` outputs of splitmix64 seeded with `seed` (uint64 array)."""
    z = np.uint64(seed) + _GOLDEN_GAMMA * np.arange(1, count + 1, dtype=np.uint64)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@dataclasses.dataclass(frozen=True)
class PoolTable:
    """mantissas[i]: stored value of entry i; every entry's real value is mantissas[i] * 2^exponent."""
    mantissas: np.ndarray
    exponent: int

    def bank(self, lane, lanes):
        """Contents of the BRAM bank that feeds `lane`: entries lane, lane + lanes, lane + 2 * lanes, ..."""
        return self.mantissas[lane::lanes]


@functools.lru_cache(maxsize=8)
def pool_table(spec):
    bits, size = spec.bits, spec.size
    draws = splitmix64(spec.seed, size) >> np.uint64(64 - bits)
    uniform = (draws.astype(np.float64) + 0.5) / (1 << (bits - 1)) - 1.0
    scaled = uniform * (gaussian_modulus(size) / math.sqrt(math.fsum(uniform * uniform)))
    largest = (1 << (bits - 1)) - 1
    exponent = math.ceil(math.log2(float(np.abs(scaled).max()) / largest))
    mantissas = np.rint(np.ldexp(scaled, -exponent)).astype(np.int64)
    return PoolTable(mantissas, exponent)


class PoolWords:
    """Integer words of a PoolSpec at any position."""

    def __init__(self, spec):
        table = pool_table(spec)
        self.spec = spec
        self.rows = torch.from_numpy(table.mantissas).view(spec.period_words, spec.lanes)
        self.exponent = table.exponent

    def __call__(self, start, count):
        """(mantissas int64[count, lanes], exponents int64[count]) of words start .. start + count - 1."""
        rows = (start % self.spec.period_words + torch.arange(count, dtype=torch.int64)) % self.spec.period_words
        return self.rows[rows], torch.full((count,), self.exponent, dtype=torch.int64)
