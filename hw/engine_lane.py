"""One lane of the ZO engine: round(d theta - c m 2^k) in fp32 or bf16 (docs/spec.md section 11), pipelined.

Perturb on read is the same operation with c = -s 2^-e and d = 1 (the engine's top sets them), so one datapath
serves every mode. Seven stages, each advancing when `advance` is high:

1. decode theta; count the leading and trailing zeros of its significand and of |m|;
2. the two exact products A = sig(theta) sig(d) and B = sig(c) |m| (DSPs) of the normalised factors, c and d
   decoded and normalised by one ScalarDecoder each per engine; a product's trailing zeros, its factors' summed;
3. finish normalising A and B (one bit at most), order them and measure the gap between their exponents;
4. align the smaller to the larger in a window of W bits (W the products' width) with the bits shifted out kept
   as a sticky bit, add or subtract: the sum, exact up to that sticky bit, which is all that rounding to
   p <= W - 2 bits reads;
5. count the sum's leading zeros: the amount of the shift into its rounding window (subnormals kept); and the
   trailing zeros of each 16-bit piece of it;
6. shift: the p bits kept, the guard bit and the sticky bit (from the pieces' counts joined), at fixed positions;
7. round to nearest even (overflow to infinity, a zero result +0), encode; NaN in theta (or d = 0 with an infinite
   theta) gives the canonical quiet NaN.

Ports: `theta` (a weight's bits), `m` (signed mantissa), `k` (signed exponent), `advance`; `c`, `d` (SCALAR_FIELDS)
of the beat in stage 2 (a ScalarDecoder given them with theta delivers them so); `result` (bits), valid LATENCY
(seven) advances after theta. Cost: two multipliers (p x 24 and 24 x mantissa
bits), normalising shifters of p and mantissa bits before them, an aligning shifter and an adder of about
W bits, one normalising shifter of about W + p bits and a p-bit rounding increment.
"""
from amaranth.hdl import Assert, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.engine import FORMATS

SCALAR = (8, 24)
"""c and d are fp32."""
LATENCY = 7
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
    log2 of the width (a priority chain would be as deep as the value is wide). The tree reads a signal holding
    `value`: read from an expression, Amaranth's simulator would evaluate it once per leaf."""
    width = max(2, 1 << (len(value) - 1).bit_length())
    source = Signal(len(value), name=f"{name}_of")
    m.d.comb += source.eq(value)
    count, found = _leading_zeros(Cat(Const(0, width - len(value)), source) if width > len(value) else source)
    result = Signal(range(len(value) + 1), name=name)
    m.d.comb += result.eq(Mux(found, count, len(value)))
    return result


def trailing_zeros(m, value, name):
    """The number of trailing zeros of `value` (its width where it is zero): a leading-zero count of its bits
    reversed."""
    return leading_zeros(m, value[::-1], name)


def _leading_zeros(bits):
    """(leading zeros, any bit set) of a power-of-two number (at least two) of bits (the count means nothing when
    none is set)."""
    if len(bits) == 2:
        return ~bits[1], bits[1] | bits[0]
    half = len(bits) // 2
    high, high_found = _leading_zeros(bits[half:])
    low, low_found = _leading_zeros(bits[:half])
    return Cat(Mux(high_found, high, low), ~high_found), high_found | low_found


def staged(m, advance, value, name, init=None):
    """A register `name` holding `value` from one `advance` to the next (`init`, else zero, after reset): a
    pipeline stage's boundary."""
    register = Signal(value.shape(), name=name, init=init)
    with m.If(advance):
        m.d.sync += register.eq(value)
    return register


PIECE = 16
"""The sum's trailing zeros are counted in pieces of this many bits (a power of two: a piece's count reaches PIECE,
its top bit, only where the piece is zero)."""

SCALAR_FIELDS = data.StructLayout({"sign": 1, "significand": SCALAR[1], "low": EXPONENT,
                                   "trailing": range(2 * SCALAR[1] + 1)})
"""c or d as the lanes take it: its sign, its significand normalised (top bit set, or zero), the exponent of the
significand's last bit and the normalised significand's trailing zeros (which the lanes' sticky bits add up)."""


class ScalarDecoder(wiring.Component):
    """An fp32 scalar (c or d) decoded and normalised once for every lane of an engine, beside the lanes' first two
    stages: the leading zeros of its significand counted in the first, shifted out in the second. Given with a
    beat's theta, it reaches the lanes with that beat's products (their stage 2).

    Ports: in `bits` (fp32), `advance`; out `scalar` (SCALAR_FIELDS) of the bits one advance before. Cost: 24-bit
    leading- and trailing-zero counts, a 24-bit shifter, and 44 FFs."""

    def __init__(self):
        super().__init__({"bits": In(32), "advance": In(1), "scalar": Out(SCALAR_FIELDS)})

    def elaborate(self, platform):
        m = Module()
        sign, significand, lsb, _, _ = decode(m, self.bits, SCALAR)
        zeros, trailing = leading_zeros(m, significand, "scalar_zeros"), trailing_zeros(m, significand, "scalar_tz")
        sign, significand, lsb, zeros, trailing = (
            staged(m, self.advance, value, f"scalar_{name}") for name, value in
            (("sign", sign), ("significand", significand), ("lsb", lsb), ("zeros", zeros), ("trailing", trailing)))
        m.d.comb += [self.scalar.sign.eq(sign), self.scalar.significand.eq(significand << zeros),
                     self.scalar.low.eq(lsb - zeros), self.scalar.trailing.eq(trailing + zeros)]
        return m


class EngineLane(wiring.Component):
    def __init__(self, fmt, mantissa_bits, exponent_bits, checks=False):
        """`checks`: also assert the datapath's internal invariants, for simulation (left out of exported designs)."""
        self.fmt, self.checks = fmt, checks
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

        # stage 1: decode theta; count the leading zeros of its significand and of |m|, which stage 2 shifts out so
        # that every factor is normalised (top bit set, unless zero; c's and d's come so) and each exact product,
        # placed at the top of W bits, has its top bit at W - 1 or W - 2; and their trailing zeros, which stage 2
        # sums into each product's
        t_sign, t_sig, t_lsb, t_inf, t_nan = decode(m, theta, (self.exponent_bits, self.precision))
        magnitude = Signal(self.mantissa_bits)
        m.d.comb += magnitude.eq(Mux(self.m < 0, -self.m, self.m))
        t_zeros, m_zeros = leading_zeros(m, t_sig, "t_zeros"), leading_zeros(m, magnitude, "m_zeros")
        t_tz, m_tz = trailing_zeros(m, t_sig, "t_tz"), trailing_zeros(m, magnitude, "m_tz")
        t_sig, t_lsb, t_zeros = (self._held(m, t_sig, "t_sig"), self._held(m, t_lsb, "t_lsb"),
                                 self._held(m, t_zeros, "tz"))
        t_sign, t_inf, t_nan = (self._held(m, t_sign, "t_sign"), self._held(m, t_inf, "t_inf"),
                                self._held(m, t_nan, "t_nan"))
        magnitude, m_zeros = self._held(m, magnitude, "magnitude"), self._held(m, m_zeros, "mz")
        t_tz, m_tz = self._held(m, t_tz, "ttz"), self._held(m, m_tz, "mtz")
        k, m_negative = self._held(m, self.k, "k"), self._held(m, self.m < 0, "m_negative")
        t_norm, m_norm = (t_sig << t_zeros)[:len(t_sig)], (magnitude << m_zeros)[:len(magnitude)]
        t_low, m_low = t_lsb - t_zeros, k - m_zeros

        # stage 2: the two exact products with c and d (DSPs), and their trailing zeros: the sums of their factors'
        c_sign, c_norm, c_low = self.c.sign, self.c.significand, self.c.low
        d_sign, d_norm, d_low = self.d.sign, self.d.significand, self.d.low
        a_pad, b_pad = W - self.precision - SCALAR[1], W - SCALAR[1] - self.mantissa_bits
        a = Signal(W)
        b = Signal(W)
        a_sign = Signal()
        b_sign = Signal()
        a_lsb = Signal(EXPONENT)
        b_lsb = Signal(EXPONENT)
        special = Signal()
        special_bits = Signal(self.width)
        a_trailing, b_trailing = Signal(range(2 * W + 2)), Signal(range(2 * W + 2))
        with m.If(self.advance):
            m.d.sync += [a.eq((t_norm * d_norm) << a_pad), a_sign.eq(t_sign ^ d_sign),
                         a_lsb.eq(t_low + d_low - a_pad),
                         b.eq((c_norm * m_norm) << b_pad), b_sign.eq(~(c_sign ^ m_negative)),
                         b_lsb.eq(c_low + m_low - b_pad),
                         a_trailing.eq(t_tz + t_zeros + self.d.trailing + a_pad),
                         b_trailing.eq(m_tz + m_zeros + self.c.trailing + b_pad),
                         special.eq(t_inf | t_nan),
                         special_bits.eq(self._special(t_sign ^ d_sign, t_nan | (t_inf & ~d_norm[-1])))]  # d = 0

        # stage 3: finish normalising both products (a shift of one bit at most), order them, measure the gap
        a_norm, a_top = self._topped(a, a_lsb)
        b_norm, b_top = self._topped(b, b_lsb)
        zero_a, zero_b = a == 0, b == 0
        # both orders' gaps and clamps are formed beside the comparison, which then only selects among them
        gap_a, gap_b = Signal(EXPONENT), Signal(EXPONENT)
        m.d.comb += [gap_a.eq(a_top - b_top), gap_b.eq(b_top - a_top)]
        a_big = ~zero_a & (zero_b | (gap_a > 0) | ((gap_a == 0) & (a_norm >= b_norm)))
        clamped = Signal(range(W + 2))
        m.d.comb += clamped.eq(Mux(a_big, Mux(gap_a > W, W + 1, gap_a), Mux(gap_b > W, W + 1, gap_b)))
        big = self._held(m, Mux(a_big, a_norm, b_norm), "big")
        small = self._held(m, Mux(a_big, b_norm, a_norm), "small")
        # the smaller's trailing zeros (one more where normalising shifted it) and whether it is zero: its sticky
        # bit then needs only a comparison with the shift
        small_trailing = self._held(m, Mux(a_big, b_trailing + ~b[-1], a_trailing + ~a[-1]), "small_trailing")
        small_set = self._held(m, Mux(a_big, ~zero_b, ~zero_a), "small_set")
        shift = self._held(m, clamped, "shift")
        big_sign = self._held(m, Mux(a_big, a_sign, b_sign), "big_sign")
        subtract = self._held(m, a_sign ^ b_sign, "subtract")
        window_top = self._held(m, Mux(a_big, a_top, b_top) + 1, "window_top")
        special2, special2_bits = self._held(m, special, "special2"), self._held(m, special_bits, "special2_bits")

        # stage 4: align the smaller below the larger in a window of W bits, with a sticky bit below it for the bits
        # shifted out, and add: exact where the exponents differ by 0 or 1 (nothing is lost), and otherwise enough,
        # because a subtraction then cancels at most one bit, so rounding to p <= W - 2 bits reads nothing below the
        # window
        lost = (small_trailing < shift) & small_set
        if self.checks:
            m.d.sync += [
                Assert(~small_set | (small_trailing == trailing_zeros(m, small, "small_tz")),
                       "the smaller product's trailing zeros, summed from its factors', are its own"),
                Assert(lost == (((small >> shift) << shift) != small), "the sticky bit is the bits shifted out")]
        wide_big = Signal(W + 1)
        wide_small = Signal(W + 1)
        m.d.comb += [wide_big.eq(big << 1), wide_small.eq(((small >> shift) << 1) | lost)]
        total = Signal(W + 2)
        m.d.comb += total.eq(Mux(subtract, wide_big - wide_small, wide_big + wide_small))  # big >= small: never < 0
        total = self._held(m, total, "total")
        total_sign, total_top = self._held(m, big_sign, "total_sign"), self._held(m, window_top, "total_top")
        total_ceiling = self._held(m, self._ceiling(window_top, W + 2), "total_ceiling")   # beside the adder
        special3, special3_bits = self._held(m, special2, "special3"), self._held(m, special2_bits, "special3_bits")

        # stages 5 and 6: normalise the sum into its rounding window (subnormals kept): the p bits kept, guard and
        # sticky
        kept_bits, guard, sticky, kept = self._windowed(m, total, total_top, total_ceiling)
        held, held_guard = self._held(m, kept_bits, "held"), self._held(m, guard, "held_guard")
        held_sticky, kept_lsb = self._held(m, sticky, "held_sticky"), self._held(m, kept, "kept_lsb")
        placed_sign = self._held(m, self._held(m, total_sign, "sign4"), "placed_sign")
        special5 = self._held(m, self._held(m, special3, "special4"), "special5")
        special5_bits = self._held(m, self._held(m, special3_bits, "special4_bits"), "special5_bits")

        # stage 7: round to nearest even, encode
        with m.If(self.advance):
            m.d.sync += self.result.eq(Mux(special5, special5_bits,
                                           self._rounded(m, held, held_guard, held_sticky, kept_lsb, placed_sign)))
        return m

    def _held(self, m, value, name, init=None):
        return staged(m, self.advance, value, name, init)

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

    def _ceiling(self, top, size):
        """The most the rounding window may move a sum of `size` bits whose top bit has exponent `top` (see
        `_windowed`): p + 2 + top - emin, within 0 .. size + p + 2."""
        p, emin = self.precision, 2 - (1 << (self.exponent_bits - 1))
        room = top - emin + (p + 2)
        return Mux(room < 0, 0, Mux(room > size + p + 2, size + p + 2, room))

    def _windowed(self, m, total, top, ceiling):
        """For the exact value `total` (N bits, its top bit of exponent `top`): (the p bits kept for rounding, the
        guard bit, the sticky bit; the exponent of the last bit kept), a stage later: the shift's amount is found
        in one stage (a leading-zero count), the shift made in the next. One left shift by S places the value in a
        field of F = N + p + 2 bits: its leading one at the top (S = p + 2 + its leading zeros), or for a subnormal
        result its bit of exponent emin there (S = `ceiling`, p + 2 + top - emin, at least 0: where the value lies
        wholly more than p + 2 bits below emin, S = 0 leaves every bit under the guard bit and it rounds to zero, as
        it should). The kept bits, guard and sticky then sit at fixed positions."""
        p, emin = self.precision, 2 - (1 << (self.exponent_bits - 1))
        field = len(total) + p + 2
        zeros = leading_zeros(m, total, "sum_zeros")
        normal = zeros + (p + 2)
        amount = Signal(range(field + 1))
        m.d.comb += amount.eq(Mux(normal > ceiling, ceiling, normal))
        leading = Signal(EXPONENT)
        kept = Signal(EXPONENT)
        m.d.comb += [leading.eq(top - zeros), kept.eq(Mux(leading < emin, emin, leading) - (p - 1))]
        # the sum's trailing zeros counted in pieces of PIECE bits, joined in the next stage (one count of the whole
        # sum maps deeper where the lane sits in an engine); after reset each piece holds a zero sum's count
        pieces = [self._held(m, trailing_zeros(m, total[start:start + PIECE], f"piece{start}_trailing"),
                             f"piece{start}_zeros", init=min(PIECE, len(total) - start))
                  for start in range(0, len(total), PIECE)]
        total, amount, kept = self._held(m, total, "sum"), self._held(m, amount, "amount"), self._held(m, kept, "kept")
        trailing = pieces[-1] + PIECE * (len(pieces) - 1)
        for index in reversed(range(len(pieces) - 1)):                   # a full piece's count has its top bit set
            trailing = Mux(pieces[index][-1], trailing, pieces[index] + PIECE * index)
        if self.checks:
            m.d.sync += Assert(trailing == trailing_zeros(m, total, "sum_tz"),
                               "the sum's trailing zeros, joined from its pieces', are its own")
        shifted = Signal(field)
        m.d.comb += shifted.eq(total << amount)
        # sticky: a bit of the sum set below the guard bit, which sits at bit field - p - 1 - amount of the sum
        sticky = (trailing + amount < field - p - 1) & (trailing != len(total))
        return shifted[field - p:], shifted[field - p - 1], sticky, kept

    def _rounded(self, m, kept_bits, guard, sticky, kept, sign):
        """The format's bits of the value kept_bits 2^kept (with its guard and sticky bits) rounded to nearest
        even, encoded."""
        p, bits = self.precision, self.exponent_bits
        bias = (1 << (bits - 1)) - 1
        emax = bias
        up = guard & (sticky | kept_bits[0])
        rounded = Signal(p + 1)
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
