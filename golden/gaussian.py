"""Golden model of the MeZO baseline Gaussian lane: a central-limit (Irwin-Hall) sum of four 12-bit uniforms.

This is the hardware Gaussian generator that PeZO replaces, built so that its cost and its training can be measured
on the same flow as PeZO's (the `clt` strategy of golden/spec.py; `hw/gaussian.py` is the RTL, `pezo synth table6`
the comparison). One lane per word emits the mantissa

    g = u_0 + u_1 + u_2 + u_3 - 8190,     of standard deviation SIGMA = sqrt(4 (4096^2 - 1) / 12) ~ 2364.8,

where the u_k are 12-bit fields of the freshest 48 bits of a 63-bit Fibonacci LFSR (taps 63, 62: XAPP052's
maximal-length trinomial, x[i] = x[i - 63] ^ x[i - 62]). The state s holds the last 63 sequence bits, bit 0 the
newest; u_k = s[12k .. 12k + 11]. Each word the LFSR leaps 48 steps at once ("leap-forward"): because
48 <= 62, every fresh bit is the XOR of two current bits,

    s' = (s << 48 | fresh) mod 2^63,    fresh bit (47 - i) = s[62 - i] ^ s[61 - i]   (i = 0 .. 47).

Any 48 consecutive bits of a 63-bit m-sequence take every nonzero pattern once per period, so the four uniforms
of one word are independent and exactly uniform (up to the missing all-zero state); g is symmetric, zero-mean and
within the Irwin-Hall(4) distance of N(0, 1) (`normal_distance`, 0.0074 in the Kolmogorov-Smirnov sense).

Lane j's first state is splitmix64 draw j of the seed (`golden/pool.py`), reduced to 63 bits (0 becomes 1).
Every word's exponent is EXPONENT = -11, the power of two nearest 1 / SIGMA on a log scale (the scaler's rule,
golden/scaling.py, for a word of many lanes), so the stream's values g 2^-11 have mean square
MEAN_SQUARE = SIGMA^2 2^-22 = (4/3)(1 - 2^-24), as the otf stream's scaled values have about.
"""
import math

import numpy as np
import torch

from .lfsr import apply, linear_orbit, power
from .pool import splitmix64

STATE_BITS = 63
LEAP = 48
UNIFORMS = 4
UNIFORM_BITS = LEAP // UNIFORMS
OUTPUT_BITS = 15
OFFSET = UNIFORMS * ((1 << UNIFORM_BITS) - 1) // 2
SIGMA = math.sqrt(UNIFORMS * ((1 << (2 * UNIFORM_BITS)) - 1) / 12)
EXPONENT = -round(math.log2(SIGMA))
MEAN_SQUARE = SIGMA ** 2 * 4.0 ** EXPONENT
PERIOD_WORDS = (1 << STATE_BITS) - 1
_MASK = (1 << STATE_BITS) - 1


def leap(state):
    """One word's update of lanes' states: a plain int, or a uint64 array of them. Fresh bit k is
    s[k + 15] ^ s[k + 14] (STATE_BITS - LEAP = 15)."""
    fresh = ((state >> (STATE_BITS - LEAP)) ^ (state >> (STATE_BITS - LEAP - 1))) & ((1 << LEAP) - 1)
    return ((state << LEAP) | fresh) & _MASK


def lane_seeds(seed, lanes):
    """First state of every lane: splitmix64 draws of `seed`, reduced to 63 nonzero bits."""
    if not 1 <= seed <= (1 << 64) - 1:
        raise ValueError(f"seed={seed} is out of range: allowed 1..{(1 << 64) - 1}")
    if lanes < 1:
        raise ValueError(f"lanes={lanes} is out of range: allowed 1 or more")
    return [int(x) & _MASK or 1 for x in splitmix64(seed, lanes)]


def states(seeds, count):
    """uint64[count, lanes]: every lane's state at words 0 .. count - 1."""
    return linear_orbit(leap, STATE_BITS, seeds, count, dtype=np.uint64)


def outputs(seed, lanes, count):
    """int64[count, lanes]: the integer output g of every lane at words 0 .. count - 1."""
    s = states(lane_seeds(seed, lanes), count)
    field = np.uint64((1 << UNIFORM_BITS) - 1)
    total = sum((s >> np.uint64(UNIFORM_BITS * k)) & field for k in range(UNIFORMS))
    return total.astype(np.int64) - OFFSET


class Words:
    """The outputs of `lanes` lanes of seed `seed` at any word: `read(start, count)` is int64[count, lanes] of words
    start .. start + count - 1. It jumps ahead by leap^start (by squaring) unless the read continues the last one
    (starts at its last word or the next), whose final states it keeps: a perturbation read tensor by tensor jumps
    once. Long reads are cut into runs (one per 512 words, at most 64) whose first states jump ahead, and the runs
    leap one word at a time side by side, so numpy works on runs x lanes values per step."""

    def __init__(self, seed, lanes):
        self.seeds = np.array(lane_seeds(seed, lanes), np.uint64)
        self.lanes = lanes
        self.last = None            # (word, the lanes' states at that word) of the last read's last word

    def read(self, start, count):
        state = self._states_at(start)
        runs = max(1, min(64, count // 512))
        length = -(-count // runs)
        hop, firsts = power(leap, STATE_BITS, length, dtype=np.uint64) if runs > 1 else None, [state]
        for _ in range(runs - 1):
            firsts.append(apply(hop, firsts[-1]))
        state = np.stack(firsts)
        out = np.empty((runs, length, self.lanes), dtype=np.int64)
        field = (1 << UNIFORM_BITS) - 1
        for word in range(length):
            out[:, word] = sum((state >> (UNIFORM_BITS * k)) & field for k in range(UNIFORMS)).astype(np.int64) - OFFSET
            if word < length - 1:
                state = leap(state)
        last = start + count - 1                 # the last run ends at its own last word, or past the read
        self.last = (last, state[-1]) if runs * length == count else None
        return out.reshape(-1, self.lanes)[:count]

    def _states_at(self, word):
        if self.last is not None and self.last[0] == word:
            return self.last[1]
        if self.last is not None and self.last[0] + 1 == word:
            return leap(self.last[1])
        return apply(power(leap, STATE_BITS, word, dtype=np.uint64), self.seeds)


class CltWords:
    """Integer words of a CltSpec at any position: lanes' outputs g and the constant exponent."""

    def __init__(self, spec):
        self.words = Words(spec.seed, spec.lanes)

    def __call__(self, start, count):
        """(mantissas int64[count, lanes], exponents int64[count]) of words start .. start + count - 1."""
        mantissas = torch.from_numpy(self.words.read(start, count))
        return mantissas, torch.full((count,), EXPONENT, dtype=torch.int64)


def output_pmf():
    """(values g, probabilities) of the output when the four uniforms are exactly uniform and independent."""
    pmf = np.ones(1)
    for _ in range(UNIFORMS):
        pmf = np.convolve(pmf, np.full(1 << UNIFORM_BITS, 1.0 / (1 << UNIFORM_BITS)))
    return np.arange(pmf.size) - OFFSET, pmf


def normal_distance():
    """Kolmogorov-Smirnov distance between the exact output distribution of z and N(0, 1)."""
    values, pmf = output_pmf()
    cdf = np.cumsum(pmf)
    normal = np.array([0.5 * math.erfc(-v / SIGMA / math.sqrt(2)) for v in values])
    return float(max(np.abs(cdf - normal).max(), np.abs(cdf - pmf - normal).max()))
