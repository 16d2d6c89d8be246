"""One lane of the ZO engine: round(d theta - c m 2^k) in fp32 or bf16 (docs/spec.md section 11), pipelined.

Perturb on read is the same operation with c = -s 2^-e and d = 1 (the engine's top sets them), so one datapath
serves every mode. Four stages, each advancing when `advance` is high:

1. decode theta and normalise its significand and |m| (c and d come decoded and normalised, by one
   ScalarDecoder each per engine); the two exact products A = sig(theta) sig(d) and B = sig(c) |m| (DSPs);
2. finish normalising A and B (one bit at most), align the smaller to the larger in a window of W bits (W the
   products' width) with the bits shifted out kept as a sticky bit, add or subtract: the sum, exact up to that
   sticky bit, which is all that rounding to p <= W - 2 bits reads;
3. normalise the sum and place it for rounding at the format's precision (subnormals kept);
4. round to nearest even (overflow to infinity, a zero result +0), encode; NaN in theta (or d = 0 with an infinite
   theta) gives the canonical quiet NaN.

Ports: `theta` (a weight's bits), `m` (signed mantissa), `k` (signed exponent), `c`, `d` (SCALAR_FIELDS), `advance`;
`result` (bits), valid LATENCY (four) advances after its inputs. Cost: two multipliers (p x 24 and 24 x mantissa
bits), normalising shifters of p and mantissa bits before them, an aligning shifter and an adder of about
W bits, a normaliser and rounder.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.engine import FORMATS

SCALAR = (8, 24)
"""c and d are fp32."""
LATENCY = 4
"""Advances from inputs to result."""
EXPONENT = signed(14)
"""Wide enough for every exponent the datapath forms (products of fp32 values and 2^k: well inside +-4096)."""


def decode(m, bits, fmt):
    """(sign, significand with its hidden bit, exponent of its LSB, is infinite, is NaN) of a float's bits."""
    exponent_bits, precision = fmt
    bias = (1 << (exponent_bits - 1)) - 1
    field = bits[precision - 1:precision - 1 + exponent_bits]
    fraction = bits[:precision - 1]
    sign = bits[precision - 1 + exponent_bits]
    normal = field != 0
    significand = Signal(precision, name=f"{bits.name}_sig")
    lsb = Signal(EXPONENT, name=f"{bits.name}_lsb")
    m.d.comb += [significand.eq(Mux(normal, fraction | (1 << (precision - 1)), fraction)),
                 lsb.eq(Mux(normal, field, 1) - bias - (precision - 1))]
    top = field == (1 << exponent_bits) - 1
    return sign, significand, lsb, top & (fraction == 0), top & (fraction != 0)


def leading_zeros(m, value, name):
    """The number of leading zeros of `value` (its width where it is zero), by a tree of 2:1 multiplexers of depth
    log2 of the width (a priority chain would be as deep as the value is wide)."""
    width = max(2, 1 << (len(value) - 1).bit_length())
    count, found = _leading_zeros(Cat(Const(0, width - len(value)), value) if width > len(value) else value)
    result = Signal(range(len(value) + 1), name=name)
    m.d.comb += result.eq(Mux(found, count, len(value)))
    return result


def _leading_zeros(bits):
    """(leading zeros, any bit set) of a power-of-two number (at least two) of bits (the count means nothing when
    none is set)."""
    if len(bits) == 2:
        return ~bits[1], bits[1] | bits[0]
    half = len(bits) // 2
    high, high_found = _leading_zeros(bits[half:])
    low, low_found = _leading_zeros(bits[:half])
    return Cat(Mux(high_found, high, low), ~high_found), high_found | low_found


def normalised(m, value, lsb, name):
    """`value` (with `lsb` the exponent of its last bit) shifted up until its top bit is set (zero stays zero), and
    the exponent of its last bit then."""
    zeros = leading_zeros(m, value, f"{name}_zeros")
    shifted = Signal(len(value), name=f"{name}_norm")
    low = Signal(EXPONENT, name=f"{name}_low")
    m.d.comb += [shifted.eq(value << zeros), low.eq(lsb - zeros)]
    return shifted, low


SCALAR_FIELDS = data.StructLayout({"sign": 1, "significand": SCALAR[1], "low": EXPONENT})
"""c or d as the lanes take it: its sign, its significand normalised (top bit set, or zero) and the exponent of the
significand's last bit."""


class ScalarDecoder(wiring.Component):
    """An fp32 scalar (c or d) decoded and normalised once for every lane of an engine.

    Ports: in `bits` (fp32), out `scalar` (SCALAR_FIELDS). Cost: a 24-bit leading-zero count and shifter."""

    def __init__(self):
        super().__init__({"bits": In(32), "scalar": Out(SCALAR_FIELDS)})

    def elaborate(self, platform):
        m = Module()
        sign, significand, lsb, _, _ = decode(m, self.bits, SCALAR)
        shifted, low = normalised(m, significand, lsb, "scalar")
        m.d.comb += [self.scalar.sign.eq(sign), self.scalar.significand.eq(shifted), self.scalar.low.eq(low)]
        return m


class EngineLane(wiring.Component):
    def __init__(self, fmt, mantissa_bits, exponent_bits):
        self.fmt = fmt
        self.exponent_bits, self.precision = FORMATS[fmt].exponent_bits, FORMATS[fmt].precision
        self.width = FORMATS[fmt].bits
        self.mantissa_bits = mantissa_bits
        self.product_bits = max(self.precision, mantissa_bits) + SCALAR[1]
        super().__init__({
            "theta": In(self.width), "m": In(signed(mantissa_bits)), "k": In(signed(exponent_bits)),
            "c": In(SCALAR_FIELDS), "d": In(SCALAR_FIELDS), "advance": In(1), "result": Out(self.width),
        })

    def elaborate(self, platform):
        m = Module()
        W = self.product_bits
        theta = Signal(self.width, name="theta")
        m.d.comb += theta.eq(self.theta)

        # stage 1: decode; every factor's significand normalised (its top bit set, unless it is zero; c's and d's
        # come so), so that each exact product, placed at the top of W bits, has its top bit at W - 1 or W - 2
        t_sign, t_sig, t_lsb, t_inf, t_nan = decode(m, theta, (self.exponent_bits, self.precision))
        c_sign, c_norm, c_low = self.c.sign, self.c.significand, self.c.low
        d_sign, d_norm, d_low = self.d.sign, self.d.significand, self.d.low
        magnitude = Mux(self.m < 0, -self.m, self.m)
        t_norm, t_low = normalised(m, t_sig, t_lsb, "t")
        m_norm, m_low = normalised(m, magnitude[:self.mantissa_bits], self.k, "m")
        a_pad, b_pad = W - self.precision - SCALAR[1], W - SCALAR[1] - self.mantissa_bits
        a, b = Signal(W), Signal(W)
        a_sign, b_sign, a_lsb, b_lsb = Signal(), Signal(), Signal(EXPONENT), Signal(EXPONENT)
        special, special_bits = Signal(), Signal(self.width)
        with m.If(self.advance):
            m.d.sync += [a.eq((t_norm * d_norm) << a_pad), a_sign.eq(t_sign ^ d_sign),
                         a_lsb.eq(t_low + d_low - a_pad),
                         b.eq((c_norm * m_norm) << b_pad), b_sign.eq(~(c_sign ^ (self.m < 0))),
                         b_lsb.eq(c_low + m_low - b_pad),
                         special.eq(t_inf | t_nan),
                         special_bits.eq(self._special(t_sign ^ d_sign, t_nan | (t_inf & (d_norm == 0))))]

        # stage 2: finish normalising both products (a shift of one bit at most), align, add
        a_norm, a_top = self._topped(a, a_lsb)
        b_norm, b_top = self._topped(b, b_lsb)
        zero_a, zero_b = a == 0, b == 0
        a_big = ~zero_a & (zero_b | (a_top > b_top) | ((a_top == b_top) & (a_norm >= b_norm)))
        big, small = Mux(a_big, a_norm, b_norm), Mux(a_big, b_norm, a_norm)
        big_top, small_top = Mux(a_big, a_top, b_top), Mux(a_big, b_top, a_top)
        big_sign, subtract = Mux(a_big, a_sign, b_sign), a_sign ^ b_sign
        # the smaller aligned below the larger in a window of W bits, with a sticky bit below it for the bits shifted
        # out: exact where the exponents differ by 0 or 1 (nothing is lost), and otherwise enough, because a
        # subtraction then cancels at most one bit, so rounding to p <= W - 2 bits reads nothing below the window
        shift = Signal(range(W + 2))
        gap = big_top - small_top
        m.d.comb += shift.eq(Mux(gap > W, W + 1, gap))
        lost = (small & ((Const(1, W + 2) << shift) - 1)) != 0
        wide_big, wide_small = Signal(W + 1), Signal(W + 1)
        m.d.comb += [wide_big.eq(big << 1), wide_small.eq(((small >> shift) << 1) | lost)]
        total, total_sign, total_lsb = Signal(W + 2), Signal(), Signal(EXPONENT)
        with m.If(self.advance):                      # big >= small, so a difference is never negative
            m.d.sync += [total.eq(Mux(subtract, wide_big - wide_small, wide_big + wide_small)),
                         total_sign.eq(big_sign), total_lsb.eq(big_top - W)]
        stage2_special, stage2_bits = Signal(), Signal(self.width)
        with m.If(self.advance):
            m.d.sync += [stage2_special.eq(special), stage2_bits.eq(special_bits)]

        # stage 3: normalise the sum and place it for rounding
        widened, limited, kept = self._placed(m, total, total_lsb)
        placed, shift, kept_lsb = Signal.like(widened), Signal.like(limited), Signal(EXPONENT)
        placed_sign, stage3_special, stage3_bits = Signal(), Signal(), Signal(self.width)
        with m.If(self.advance):
            m.d.sync += [placed.eq(widened), shift.eq(limited), kept_lsb.eq(kept), placed_sign.eq(total_sign),
                         stage3_special.eq(stage2_special), stage3_bits.eq(stage2_bits)]

        # stage 4: round to nearest even, encode
        with m.If(self.advance):
            m.d.sync += self.result.eq(Mux(stage3_special, stage3_bits,
                                           self._rounded(m, placed, shift, kept_lsb, placed_sign)))
        return m

    def _special(self, sign, nan):
        """The bits for an infinite or NaN theta."""
        infinity = ((1 << self.exponent_bits) - 1) << (self.precision - 1)
        return Mux(nan, FORMATS[self.fmt].canonical_nan, Mux(sign, infinity | (1 << (self.width - 1)), infinity))

    @staticmethod
    def _topped(value, lsb):
        """A product of normalised factors (top bit at W - 1 or W - 2, or zero) with its top bit at W - 1, and the
        exponent of that top bit."""
        high = value[-1]
        return Mux(high, value, value << 1), Mux(high, lsb + (len(value) - 1), lsb + (len(value) - 2))

    def _placed(self, m, total, lsb):
        """For the exact value total 2^lsb: (the magnitude, shifted up where it has fewer than p bits; how many of
        its low bits rounding drops; the exponent of the last bit kept)."""
        p, bits = self.precision, self.exponent_bits
        emin = 2 - (1 << (bits - 1))
        zeros = leading_zeros(m, total, "sum_zeros")
        top = Signal(EXPONENT)
        m.d.comb += top.eq(lsb + (len(total) - 1) - zeros)
        kept = Signal(EXPONENT)                        # exponent of the last bit kept
        m.d.comb += kept.eq(Mux(top < emin, emin, top) - (p - 1))
        drop = Signal(EXPONENT)
        m.d.comb += drop.eq(kept - lsb)
        reach = len(total) + 2
        limited = Signal(range(reach + 1))
        m.d.comb += limited.eq(Mux(drop > reach, reach, Mux(drop < 0, 0, drop)))
        widened = Signal(len(total) + 1 + p)           # room to shift up a short magnitude
        m.d.comb += widened.eq(Mux(drop < 0, total << (-drop)[:8], total))
        return widened, limited, kept

    def _rounded(self, m, widened, limited, kept, sign):
        """The format's bits of the placed value: its bits above `limited` rounded to nearest even, encoded."""
        p, bits = self.precision, self.exponent_bits
        bias = (1 << (bits - 1)) - 1
        emax = bias
        reach = (1 << len(limited)) - 1
        kept_bits = Signal(p + 1)
        m.d.comb += kept_bits.eq(widened >> limited)
        under = Signal(range(reach + 1))               # the guard bit's position
        m.d.comb += under.eq(Mux(limited == 0, 0, limited - 1))
        half = Const(1, len(widened) + reach + 1) << under
        guard = (limited != 0) & ((widened & half) != 0)
        sticky = (limited != 0) & ((widened & (half - 1)) != 0)
        up = guard & (sticky | kept_bits[0])
        rounded = Signal(p + 2)
        m.d.comb += rounded.eq(kept_bits + up)
        carry = rounded[p]
        mantissa = Signal(p)
        exponent_of_lsb = Signal(EXPONENT)
        m.d.comb += [mantissa.eq(Mux(carry, rounded >> 1, rounded)), exponent_of_lsb.eq(kept + carry)]
        field = Signal(EXPONENT)
        m.d.comb += field.eq(Mux(mantissa[p - 1], exponent_of_lsb + (p - 1) + bias, 0))
        overflow = (exponent_of_lsb + (p - 1) > emax) & mantissa[p - 1]
        infinity = ((1 << bits) - 1) << (p - 1)
        signed_bit = sign << (self.width - 1)
        encoded = Mux(overflow, signed_bit | infinity,
                      Mux(mantissa == 0, 0, signed_bit | (field[:bits] << (p - 1)) | mantissa[:p - 1]))
        return encoded
