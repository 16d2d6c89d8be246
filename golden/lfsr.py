"""Fibonacci LFSRs: maximal-length taps, the state update, and whole sequences.

A b-bit generator holds a state s in [1, 2^b - 1] and steps as

    s' = ((s << 1) | parity(s & feedback_mask(b))) mod 2^b

where feedback_mask(b) has bit (t - 1) set for every tap t of TAPS[b]. With these taps the state visits every
nonzero value once per period of 2^b - 1 steps (docs/spec.md, "LFSR").
"""
import numpy as np

# Maximal-length taps (Xilinx XAPP052 table), counted from 1 = least significant bit. tests/ proves each primitive.
TAPS = {
    2: (2, 1), 3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7),
    11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4),
    17: (17, 14), 18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18),
    24: (24, 23, 22, 17),
}
MIN_WIDTH, MAX_WIDTH = min(TAPS), max(TAPS)


def period(width):
    """Number of distinct states a maximal-length generator of this width visits."""
    return (1 << width) - 1


def feedback_mask(width):
    return sum(1 << (tap - 1) for tap in TAPS[width])


def step(state, width):
    """One update of a single generator (plain Python int)."""
    feedback = (state & feedback_mask(width)).bit_count() & 1
    return ((state << 1) | feedback) & period(width)


def apply(columns, states):
    """Apply the GF(2)-linear map whose image of bit i is columns[i] to every state in an array."""
    out = np.zeros_like(states)
    for i, column in enumerate(columns):
        out ^= ((states >> i) & 1) * column
    return out


def linear_orbit(update, bits, first, count, dtype=np.uint32):
    """first, update(first), update(update(first)), ... (count of them) for a GF(2)-linear `update` of `bits`-bit
    states; `first` is one state or an array of them (one per lane), giving rows of that shape.

    Vectorised by doubling: rows [m, 2m) are the jump-by-m map applied to rows [0, m), and the jump-by-2m map is
    the jump-by-m map composed with itself. Cost is about `bits` array operations per row.
    """
    first = np.asarray(first, dtype=dtype)
    rows = np.empty((count,) + first.shape, dtype=dtype)
    rows[0] = first
    columns = np.array([update(1 << i) for i in range(bits)], dtype=dtype)
    filled = 1
    while filled < count:
        chunk = min(filled, count - filled)
        rows[filled:filled + chunk] = apply(columns, rows[:chunk])
        filled += chunk
        columns = apply(columns, columns)
    return rows


def sequence(width, start, count):
    """States start, step(start), ... (count of them) as a uint32 array."""
    return linear_orbit(lambda state: step(state, width), width, start, count)


def power(update, bits, steps, dtype=np.uint32):
    """The GF(2)-linear map `update` of `bits`-bit states applied `steps` times, as the images of the basis states
    1 << i; by squaring, so any number of steps costs about 2 log2(steps) matrix products."""
    result = np.array([1 << i for i in range(bits)], dtype=dtype)
    factor = np.array([update(1 << i) for i in range(bits)], dtype=dtype)
    while steps:
        if steps & 1:
            result = apply(factor, result)
        factor = apply(factor, factor)
        steps >>= 1
    return result


def jump(width, steps):
    """The images of the basis states under `steps` LFSR updates (the matrix of step^steps)."""
    return [int(column) for column in power(lambda state: step(state, width), width, steps % period(width))]
