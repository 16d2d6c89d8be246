"""Golden model of the pre-generated pool: its offline contents and cyclic, word-aligned reads.

Contents: splitmix64(seed) draws, quantised to 2^bits uniform midpoints in (-1, 1), scaled as one vector to the
expected Gaussian modulus E_size (PeZO Eq. 3), then stored as `bits`-bit signed mantissas with one exponent; or,
`balanced`, +-pairs of such draws in a seeded order, of mean exactly 0 and mean square 1.
Reads: word w, lane j is entry (w mod D) * lanes + j, D = size / lanes, or with `slip` entry a * lanes + j,
a = (w + floor(w / D)) mod D; lane j's entries form BRAM bank j.
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
    """The contents of a PoolSpec's pool: Eq. 3-scaled draws, or with `balanced` +-pairs of mean square 1."""
    if spec.balanced:
        return _balanced_table(spec)
    scaled = _midpoints(spec.seed, spec.bits, spec.size)
    return _store(scaled * (gaussian_modulus(spec.size) / math.sqrt(math.fsum(scaled * scaled))), spec.bits)


def _midpoints(seed, bits, count):
    """The first `count` splitmix64 draws quantised to `bits` bits, as midpoints of 2^bits steps in (-1, 1)."""
    draws = splitmix64(seed, count) >> np.uint64(64 - bits)
    return (draws.astype(np.float64) + 0.5) / (1 << (bits - 1)) - 1.0


def _exponent(scaled, bits):
    """The one exponent that fits the largest value in a `bits`-bit signed mantissa."""
    return math.ceil(math.log2(float(np.abs(scaled).max()) / ((1 << (bits - 1)) - 1)))


def _store(scaled, bits):
    exponent = _exponent(scaled, bits)
    return PoolTable(np.rint(np.ldexp(scaled, -exponent)).astype(np.int64), exponent)


def _balanced_table(spec):
    """docs/spec.md section 6a: h = size // 2 draws x_i and their negations (and a zero when size is odd), scaled
    to mean square 1, rounded as +-pairs, pairs nudged by one LSB towards sum m^2 = size 4^-k, and placed in the
    order of the next `size` draws (a stable argsort)."""
    size, bits, half = spec.size, spec.bits, spec.size // 2
    x = _midpoints(spec.seed, bits, half)
    x *= math.sqrt(size / (2 * math.fsum(x * x)))
    exponent = _exponent(x, bits)
    pairs = _nudged(np.rint(np.ldexp(x, -exponent)).astype(np.int64), np.sign(x).astype(np.int64),
                    size << (-2 * exponent) if exponent <= 0 else size >> (2 * exponent), (1 << (bits - 1)) - 1)
    values = np.concatenate([pairs, -pairs, np.zeros(size % 2, dtype=np.int64)])
    order = np.argsort(splitmix64(spec.seed, half + size)[half:], kind="stable")
    return PoolTable(values[order], exponent)


def _nudged(pairs, signs, target, largest):
    """Move pairs by one LSB each (away from or towards zero, each pair at most once), greedily, while that brings
    2 sum(pairs^2) closer to `target`: a pair of magnitude a moves the sum by 2(2a + 1) outwards, -2(2a - 1)
    inwards, so it ends within 2 of the target unless the pairs run out."""
    pairs = pairs.copy()
    residual = target - 2 * int(np.sum(pairs * pairs))
    magnitude = np.abs(pairs)
    outward = np.where(magnitude < largest, 2 * (2 * magnitude + 1), 0)       # 0: the pair cannot move (or has)
    inward = np.where(magnitude > 0, -2 * (2 * magnitude - 1), 0)
    while True:
        changes = np.concatenate([outward, inward])
        best = int(np.argmin(np.abs(residual - changes)))
        if changes[best] == 0 or abs(residual - int(changes[best])) >= abs(residual):
            return pairs
        pair = best % pairs.size
        pairs[pair] += signs[pair] if best < pairs.size else -signs[pair]
        residual -= int(changes[best])
        outward[pair] = inward[pair] = 0


class PoolWords:
    """Integer words of a PoolSpec at any position."""

    def __init__(self, spec):
        table = pool_table(spec)
        self.spec = spec
        self.rows = torch.from_numpy(table.mantissas).view(spec.pool_words, spec.lanes)
        self.exponent = table.exponent

    def __call__(self, start, count):
        """(mantissas int64[count, lanes], exponents int64[count]) of words start .. start + count - 1."""
        words = (start % self.spec.period_words + torch.arange(count, dtype=torch.int64)) % self.spec.period_words
        return self.rows[address(self.spec, words)], torch.full((count,), self.exponent, dtype=torch.int64)


def address(spec, words):
    """The pool word (bank address) that stream word w reads: w mod D, or with slip (w + floor(w / D)) mod D."""
    depth = spec.pool_words
    return (words + words // depth) % depth if spec.slip else words % depth
