"""The engine's numerics (golden/engine.py) against exact rational arithmetic, rounded by a reference written from
docs/spec.md section 11, on random values of every class (zeros, subnormals, normals, the largest finite values,
infinities, NaN), for both formats and both operations."""
import math
import random
import struct
from fractions import Fraction

import pytest
import torch

from pezo.golden import engine

PRECISION = {"fp32": 24, "bf16": 8}
EMIN, EMAX = -126, 127


def reference_bits(exact, fmt):
    """The spec's rounding of an exact rational (or ±inf / None for NaN) to `fmt`, as bits."""
    if exact is None:
        return engine.FORMATS[fmt].canonical_nan
    if isinstance(exact, float):                  # an infinity
        bits = 0x7F800000 | (0x80000000 if exact < 0 else 0)
        return bits if fmt == "fp32" else bits >> 16
    if exact == 0:
        return 0
    magnitude, p = abs(exact), PRECISION[fmt]
    power = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** power > magnitude:
        power -= 1
    quantum = Fraction(2) ** (max(power, EMIN) - p + 1)
    scaled = magnitude / quantum
    whole = math.floor(scaled)
    rest = scaled - whole
    whole += rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1)
    value = whole * quantum
    if value >= Fraction(2) ** (EMAX + 1):
        return reference_bits(math.copysign(math.inf, exact), fmt)
    if value == 0:
        return 0
    bits = struct.unpack("<I", struct.pack("<f", float(value)))[0] | (0x80000000 if exact < 0 else 0)
    return bits if fmt == "fp32" else bits >> 16


def exact_of(value):
    """A finite float as a Fraction; an infinity as itself; NaN as None."""
    if math.isnan(value):
        return None
    return value if math.isinf(value) else Fraction(value)


def combine(a, b):
    """a + b over exact values, infinities and NaN (None)."""
    if a is None or b is None:
        return None
    if isinstance(a, float) or isinstance(b, float):
        infinite = [x for x in (a, b) if isinstance(x, float)]
        return None if len(infinite) == 2 and infinite[0] != infinite[1] else infinite[0]
    return a + b


def scale(x, factor):
    if x is None:
        return None
    if isinstance(x, float):
        return None if factor == 0 else math.copysign(math.inf, x * factor)
    return x * factor


def weights(fmt, count, rng):
    """Random values of `fmt` of every class, as an fp32 tensor."""
    special = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0]
    if fmt == "fp32":
        special += [struct.unpack("<f", struct.pack("<I", bits))[0] for bits in
                    (1, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7FFFFE)]
        drawn = [struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))[0] for _ in range(count)]
    else:
        special += [struct.unpack("<f", struct.pack("<I", bits << 16))[0] for bits in
                    (1, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7F7E)]
        drawn = [struct.unpack("<f", struct.pack("<I", rng.getrandbits(16) << 16))[0] for _ in range(count)]
    near = [rng.uniform(-0.1, 0.1) for _ in range(count)]       # typical weights, where u and theta overlap
    values = torch.tensor(special + drawn + near, dtype=torch.float32)
    return values if fmt == "fp32" else values.to(torch.bfloat16).to(torch.float32)


def perturbations(count, rng):
    """u = m 2^k with m of up to 24 bits and k in a generator's range, plus zeros."""
    values = [math.ldexp(rng.randrange(-(1 << rng.choice([4, 8, 12, 24])) + 1, 1 << 23), rng.randrange(-40, 4))
              for _ in range(count)]
    return torch.tensor(values, dtype=torch.float32)


def bits_of(tensor, fmt):
    """The format's bits of an fp32 tensor of `fmt` values (a bf16 value is the upper half of its fp32 bits; torch's
    own conversion would not keep a NaN's bits)."""
    bits = [b & 0xFFFFFFFF for b in tensor.view(torch.int32).tolist()]
    return bits if fmt == "fp32" else [b >> 16 for b in bits]


@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
def test_perturb_rounds_the_exact_sum_once(fmt):
    rng = random.Random(1)
    theta = weights(fmt, 3000, rng)
    u = perturbations(theta.numel(), rng)
    for sign, e in ((1, 10), (-1, 10), (1, 0), (-1, 30)):
        got = bits_of(engine.perturb(theta, u, sign, e, fmt), fmt)
        want = [reference_bits(combine(exact_of(t), scale(Fraction(v), Fraction(sign) / 2 ** e)), fmt)
                for t, v in zip(theta.tolist(), u.tolist())]
        assert got == want


@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
def test_update_rounds_the_exact_value_once(fmt):
    rng = random.Random(2)
    theta = weights(fmt, 3000, rng)
    u = perturbations(theta.numel(), rng)
    for c, d in ((engine.fp32(3.7e-6), 1.0), (engine.fp32(-1234.5678), 1.0), (engine.fp32(2e-30), 1.0),
                 (engine.fp32(0.01), engine.fp32(1 - 1e-4)), (engine.fp32(1.5e-7), 0.0)):
        got = bits_of(engine.update(theta, u, c, fmt, d), fmt)
        want = [reference_bits(combine(scale(exact_of(t), Fraction(d)), -Fraction(c) * Fraction(v)), fmt)
                for t, v in zip(theta.tolist(), u.tolist())]
        assert got == want


def test_fp32_perturb_fast_path_equals_the_float64_path():
    """For fp32 weights, perturb adds 2^-e u in fp32 (both operands are fp32 values, so one IEEE addition rounds the
    exact sum once); the float64 path with rounding to odd must give the same bits on every class of value."""
    rng = random.Random(3)
    theta = weights("fp32", 20000, rng)
    u = perturbations(theta.numel(), rng)
    for sign, e in ((1, 7), (-1, 30), (1, 0)):
        assert engine._normal_after_scaling(u, e)
        fast = engine.perturb(theta, u, sign, e, "fp32")
        slow = engine._round(theta.double(), u.double() * math.ldexp(sign, -e), "fp32", theta)
        assert torch.equal(fast.view(torch.int32), slow.view(torch.int32))
    tiny = torch.tensor([math.ldexp(1, -120)])
    assert not engine._normal_after_scaling(tiny, 10)            # 2^-130 is subnormal: the float64 path is taken


def test_bf16_perturb_fast_path_equals_the_exact_rounding():
    """For bf16 weights and u of at most 8 significant bits (otf-31x8's words), perturb adds in fp32 and rounds that
    to bf16; on every class of value it must give the bits of the float64 path and of exact arithmetic. u of more
    bits takes the float64 path."""
    rng = random.Random(4)
    theta = weights("bf16", 20000, rng)
    u = torch.tensor([math.ldexp(rng.randrange(-255, 256), rng.randrange(-40, 4)) for _ in range(theta.numel())])
    u[:2] = 0.0                                             # -0 + -0 (s = -1) must give +0
    assert theta[1].item() == 0 and math.copysign(1, theta[1].item()) < 0
    assert engine._bf16_values(u) and not engine._bf16_values(u + math.ldexp(1, -60))
    for sign, e in ((1, 7), (-1, 30), (1, 0), (-1, 10)):
        assert engine._normal_after_scaling(u, e)
        fast = engine.perturb(theta, u, sign, e, "bf16")
        slow = engine._round(theta.double(), u.double() * math.ldexp(sign, -e), "bf16", theta)
        assert torch.equal(fast.view(torch.int32), slow.view(torch.int32))
        exact = [reference_bits(combine(exact_of(t), scale(Fraction(v), Fraction(sign) / 2 ** e)), "bf16")
                 for t, v in zip(theta[:4000].tolist(), u[:4000].tolist())]
        assert bits_of(fast[:4000], "bf16") == exact


def test_host_scalars_must_be_fp32():
    with pytest.raises(ValueError, match="must be fp32 values"):
        engine.update(torch.zeros(2), torch.ones(2), 0.1, "fp32")
    with pytest.raises(ValueError, match="format 'fp16' is unknown"):
        engine.perturb(torch.zeros(2), torch.ones(2), 1, 3, "fp16")


@pytest.mark.parametrize("fmt, largest, ulp", [("fp32", 0x7F7FFFFF, 104), ("bf16", 0x7F7F0000, 120)])
def test_overflow_rounds_to_infinity_at_half_an_ulp(fmt, largest, ulp):
    """The largest finite value plus half its ulp is a tie whose even neighbour is infinity; less stays finite."""
    theta = torch.tensor([largest, largest | 0x80000000], dtype=torch.int64).to(torch.int32).view(torch.float32)
    for power in (ulp - 1, ulp - 2, ulp):
        u = torch.tensor([math.ldexp(1, power), -math.ldexp(1, power)])
        got = bits_of(engine.perturb(theta, u, 1, 0, fmt), fmt)
        want = [reference_bits(Fraction(t) + Fraction(v), fmt) for t, v in zip(theta.tolist(), u.tolist())]
        assert got == want
        assert (got[0] in (0x7F800000, 0x7F80)) == (power >= ulp - 1)
