"""The on-device ZO engine's numerics (docs/spec.md section 11), bit for bit, as tensor operations.

The engine reads weights theta in a storage format (fp32 or bf16) and writes each output rounded once, to nearest
even, from its exact value:

- perturb on read: theta + s 2^-e u, for s = +1 or -1 (eps = 2^-e), weights in memory untouched;
- update: d theta - c u, with c = lr g and d = 1 - lr wd (decoupled weight decay; d = 1 without it) as fp32
  scalars the host writes.

u is an fp32 value (the generators' m 2^k: a mantissa of at most 24 bits). Every product above is then exact in
float64 (at most 24 x 24 bits); the sum of two float64 values is rounded to odd in float64 (TwoSum gives its exact
error) and that to the storage format, to nearest even: rounding to odd at 53 bits, or at fp32's 24 bits on the
way to bf16's 8, keeps the final rounding correct (Boldo and Melquiond, 2008). An exact zero is +0; NaN in or out
is the canonical quiet NaN; infinities pass; an overflow rounds to infinity; subnormals are kept.
"""
import collections
import math

import torch


class Format(collections.namedtuple("Format", "dtype exponent_bits precision canonical_nan")):
    """A storage format: its torch dtype, exponent bits, precision p (significant bits, the hidden one included)
    and the bits of the quiet NaN the engine writes for any NaN."""

    @property
    def bits(self):
        """Bits of one value: sign, exponent and p - 1 fraction bits."""
        return self.exponent_bits + self.precision


FORMATS = {"fp32": Format(torch.float32, 8, 24, 0x7FC00000), "bf16": Format(torch.bfloat16, 8, 8, 0x7FC0)}
"""The engine's weight formats, by name (the hardware's too: hw/engine_lane.py)."""
FP32_MAX = torch.finfo(torch.float32).max


def fp32(value):
    """A host scalar as the fp32 value the engine's register holds (rounded to nearest even)."""
    return float(torch.tensor(value, dtype=torch.float64).to(torch.float32))


def perturb(theta, u, sign, e, fmt):
    """round(theta + sign 2^-e u) in `fmt`, in theta's dtype (theta holds `fmt` values; u fp32)."""
    if theta.dtype == torch.float32 and _normal_after_scaling(u, e):
        alpha = math.ldexp(sign, -e)
        if fmt == "fp32":
            # both operands are fp32 values, so one IEEE addition rounds the exact sum once: the same result, faster
            return _canonical(torch.add(theta, u, alpha=alpha).add_(0.0), fmt)
        if fmt == "bf16" and _bf16_values(u):
            # both operands are bf16 values (8 significant bits) and fp32 has 24 >= 2 x 8 + 2, so rounding their sum
            # to fp32 and that to bf16 rounds the exact sum once (Figueroa, 1995): the same result, faster
            total = torch.add(theta, u, alpha=alpha).to(torch.bfloat16).add_(0.0)
            return _canonical(total, fmt).to(theta.dtype)
    delta = u.to(torch.float64).mul_(math.ldexp(sign, -e))
    return _round(theta.to(torch.float64), delta, fmt, theta)


def _bf16_values(u):
    """Whether every value of u has at most bf16's 8 significant bits (as the otf generators' words of up to 9
    mantissa bits do)."""
    return torch.equal(u.to(torch.bfloat16).to(u.dtype), u)


def _normal_after_scaling(u, e):
    """Whether 2^-e u is exact in fp32: no nonzero value of u falls below the normal range when scaled."""
    magnitude = u.abs()
    smallest = torch.where(magnitude > 0, magnitude, math.inf).min()
    return bool(smallest == math.inf or smallest * 2.0 ** -e >= torch.finfo(torch.float32).tiny)


def update(theta, u, c, fmt, d=1.0):
    """round(d theta - c u) in `fmt`, in theta's dtype, for fp32 scalars c and d (see `fp32`)."""
    if fp32(c) != c or fp32(d) != d:
        raise ValueError(f"c={c!r} and d={d!r} must be fp32 values (pezo.golden.engine.fp32 rounds them)")
    scaled = theta.to(torch.float64)
    if d != 1.0:
        scaled.mul_(d)
    return _round(scaled, u.to(torch.float64).mul_(-c), fmt, theta)


def _round(a, b, fmt, like):
    """The exact a + b (float64 tensors, each exact) rounded once to `fmt`, as a tensor of like's dtype."""
    total = a + b
    error = _two_sum_error(a, b, total)
    rounded = _to_odd(total, error)
    if fmt == "fp32":
        result = rounded.to(torch.float32)
    elif fmt == "bf16":
        result = _odd_fp32(rounded).to(torch.bfloat16)
    else:
        raise ValueError(f"format {fmt!r} is unknown: allowed {', '.join(FORMATS)}")
    result = result.add_(0.0)                       # an exact zero is +0 (-0 + +0 = +0 when rounding to nearest)
    return _canonical(result, fmt).to(like.dtype)


def _canonical(result, fmt):
    """`result` with every NaN replaced by the format's canonical quiet NaN."""
    nan = torch.isnan(result)
    if not nan.any():
        return result
    bits = torch.tensor(FORMATS[fmt].canonical_nan, dtype=torch.int32 if fmt == "fp32" else torch.int16)
    return torch.where(nan, bits.view(FORMATS[fmt].dtype).to(result.device), result)


def _two_sum_error(a, b, total):
    """The exact a + b - total (Knuth's TwoSum; exact in float64 barring overflow)."""
    b_part = total - a
    a_part = total - b_part
    return (a - a_part).add_(b - b_part)


def _to_odd(total, error):
    """The exact total + error rounded to odd: where inexact and total's last bit is even, the neighbour toward
    the exact value."""
    even = (total.view(torch.int64) & 1) == 0
    inexact = (error != 0) & torch.isfinite(total)
    toward = torch.where(error > 0, math.inf, -math.inf).to(total.dtype)
    return torch.where(inexact & even, torch.nextafter(total, toward), total)


def _odd_fp32(value):
    """A float64 tensor rounded to odd at fp32 (an overflow to the largest finite fp32, which is odd)."""
    near = value.to(torch.float32)
    finite = torch.isfinite(value)
    near = torch.where(torch.isinf(near) & finite, torch.copysign(torch.tensor(FP32_MAX), value.to(torch.float32)),
                       near)
    error = torch.where(finite, value - near.to(torch.float64), torch.zeros_like(value))
    even = (near.view(torch.int32) & 1) == 0
    toward = torch.where(error > 0, math.inf, -math.inf).to(torch.float32)
    return torch.where((error != 0) & even, torch.nextafter(near, toward), near)
