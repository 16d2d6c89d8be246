"""The LFSR taps are maximal-length and the vectorised sequence equals stepping one state at a time."""
import numpy as np
import pytest

from pezo.golden import lfsr


@pytest.mark.parametrize("width", sorted(lfsr.TAPS))
def test_full_period(width):
    states = lfsr.sequence(width, 1, lfsr.period(width))
    counts = np.bincount(states, minlength=1 << width)
    assert counts[0] == 0 and (counts[1:] == 1).all(), "every nonzero state exactly once per period"
    assert lfsr.step(int(states[-1]), width) == 1, "the sequence closes after 2^b - 1 steps"


@pytest.mark.parametrize("width", [2, 5, 8, 14, 24])
def test_sequence_matches_single_steps(width):
    start = (0x5A5A5A >> (24 - width)) | 1
    expected, state = [], start
    for _ in range(1000):
        expected.append(state)
        state = lfsr.step(state, width)
    assert lfsr.sequence(width, start, 1000).tolist() == expected


def test_step_is_fibonacci_shift_left():
    # width 8, taps 8,6,5,4: feedback = bit7 ^ bit5 ^ bit4 ^ bit3
    assert lfsr.step(0b1000_0000, 8) == 0b0000_0001
    assert lfsr.step(0b0000_0001, 8) == 0b0000_0010
    assert lfsr.step(0b0011_1000, 8) == 0b0111_0001


@pytest.mark.parametrize("width, steps", [(8, 9), (8, 255 + 37), (16, 1041), (24, 541201)])
def test_jump_is_that_many_steps(width, steps):
    """The jump matrix (hw/reload_array.py's J) applied to a state equals stepping it one at a time."""
    columns = lfsr.jump(width, steps)
    for state in (1, 0b1011, (1 << width) - 1):
        image = 0
        for i, column in enumerate(columns):
            image ^= column if state >> i & 1 else 0
        expected = state
        for _ in range(steps % lfsr.period(width)):
            expected = lfsr.step(expected, width)
        assert image == expected
