"""Compare a generator's dumped words with the golden stream, every bit of every lane of every word."""
import dataclasses

import numpy as np

from ..golden import Stream
from .scenario import expected_words

CHUNK_ROWS = 1 << 18


@dataclasses.dataclass(frozen=True)
class Layout:
    """Payload fields, least significant bit first (docs/spec.md section 8)."""
    lanes: int
    mantissa_bits: int
    exp_bits: int

    @property
    def bits(self):
        return self.lanes * self.mantissa_bits + self.exp_bits + 1

    @property
    def padded_bytes(self):
        return (self.bits + 7) // 8


def _field(bits, offset, width, signed):
    value = bits[:, offset:offset + width].astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
    return value - ((value >> (width - 1)) << width) if signed else value


def parse_dump(text, layout):
    """(mantissas int64[words, lanes], exponents int64[words], last int64[words]) from hex lines, one per word."""
    raw = np.frombuffer(bytes.fromhex(text), dtype=np.uint8).reshape(-1, layout.padded_bytes)
    parts = ([], [], [])
    for begin in range(0, raw.shape[0], CHUNK_ROWS):
        bits = np.unpackbits(raw[begin:begin + CHUNK_ROWS], axis=1)[:, ::-1]
        m = layout.mantissa_bits
        parts[0].append(np.stack([_field(bits, j * m, m, True) for j in range(layout.lanes)], axis=1))
        parts[1].append(_field(bits, layout.lanes * m, layout.exp_bits, True))
        parts[2].append(_field(bits, layout.lanes * m + layout.exp_bits, 1, False))
    if not parts[0]:
        return np.zeros((0, layout.lanes), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return tuple(np.concatenate(part) for part in parts)


def golden_words(spec, scenario):
    """The words a correct generator emits under the scenario, with their `last` flags."""
    runs = expected_words(scenario)
    stream = Stream(spec)
    mantissas, exponents, last = [], [], []
    for position, index, count, length in runs:
        m, k = stream(position, count)
        mantissas.append(m.numpy())
        exponents.append(k.numpy())
        last.append((np.arange(index, index + count) == length - 1).astype(np.int64))
    if not runs:
        return np.zeros((0, spec.lanes), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(mantissas), np.concatenate(exponents), np.concatenate(last)


def first_mismatch(got, want):
    """None when every field of every word is equal, else a sentence locating the first difference."""
    names = ("mantissas", "exponent", "last")
    if got[0].shape[0] != want[0].shape[0]:
        return f"the generator emitted {got[0].shape[0]} words, the golden model expects {want[0].shape[0]}"
    for name, g, w in zip(names, got, want):
        wrong = np.argwhere(g != w)
        if wrong.size:
            word = int(wrong[0][0])
            where = f"word {word}" + (f", lane {int(wrong[0][1])}" if g.ndim == 2 else "")
            return f"{name} differ first at {where}: generator {g[word].tolist()}, golden {w[word].tolist()}"
    return None


def layout_of(spec, exp_bits):
    return Layout(spec.lanes, spec.mantissa_bits, exp_bits)
