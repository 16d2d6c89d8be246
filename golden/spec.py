"""The perturbation spec: one frozen, validated, JSON-serialisable description of a PeZO generator.

`OtfSpec` describes the rotating array of LFSRs with the adaptive modulus scaler; `PoolSpec` the pre-generated
pool with leftover shifting; `CltSpec` the MeZO baseline's Gaussian lanes that PeZO replaces. All produce the
same stream format: per word, `lanes` signed mantissas of `mantissa_bits` bits and one shared signed exponent of
`exp_bits` bits. docs/spec.md defines every bit.
"""
import dataclasses
import json
import math
import warnings

from . import lfsr

MAX_GENERATORS = 4096
MAX_POOL_SIZE = 1 << 24
POOL_BITS = (2, 24)
EXP_BITS = (2, 16)
LENGTH_BITS = (2, 64)
MAX_SPLITMIX_SEED = (1 << 64) - 1


class SpecError(ValueError):
    """An invalid configuration. The message names the bad value and what is allowed."""


MAX_CLT_LANES = 4096


class RegularPatternWarning(UserWarning):
    """A legal configuration the PeZO paper warns against: power-of-two sizes repeat in regular patterns."""


def _check_range(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise SpecError(f"{name}={value} is out of range: allowed {low}..{high}")


def _is_power_of_two(value):
    return value & (value - 1) == 0


STRATEGIES = {}
"""The registered strategies, name -> spec class: every subclass of PerturbSpec that names a `strategy`."""


@dataclasses.dataclass(frozen=True)
class PerturbSpec:
    """Fields shared by every strategy. A strategy is a frozen dataclass subclass that sets `strategy` (its name)
    and `source` (its name as a trainer's perturbation source), and gives `shape` (its size as a label names
    it), `words()` (its golden word model: words(start, count) -> mantissas, exponents), `exponent_range` and
    `period_words`, and checks its own fields in `check_own`; defining it registers it in STRATEGIES.

    exp_bits: width of the signed exponent field; None picks the smallest width that holds every exponent.
    length_bits: width of the perturbation-length input (words per perturbation) of the hardware.
    hop_bits: width of the hardware's `hop` input, 0 .. length_bits: a `next` skips `hop` more words than the
    perturbation has left, and pezo sets hop from the trainable count so that perturbations start at word
    distances coprime with the period (full reach, docs/spec.md section 7). 0 (the default) has no such input;
    to_dict records hop_bits only when it is above 0.
    """
    exp_bits: int | None = None
    length_bits: int = 32
    hop_bits: int = 0

    strategy = None
    source = None
    reload = 0
    """How the hardware replays: a field of OtfSpec only (docs/spec.md section 4a); a pool never reloads."""
    independent_mean_square = None
    """E[u^2] of a stream whose values are zero-mean and independent by construction (its period too long to
    read, golden/quality.py); None: the statistics are read off the stream's period."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.strategy:
            STRATEGIES[cls.strategy] = cls

    @classmethod
    def shared_fields(cls):
        """Names of the fields every strategy has."""
        return tuple(field.name for field in dataclasses.fields(PerturbSpec))

    @classmethod
    def own_fields(cls):
        """Names of the fields of this strategy alone, in declaration order."""
        return tuple(field.name for field in dataclasses.fields(cls) if field.name not in cls.shared_fields())

    @property
    def label(self):
        """The configuration's name: strategy-dimensions, e.g. otf-31x8, pool-4095x12-l5, otf-31x8-reload,
        otf-31x8-hop8."""
        return f"{self.strategy}-{self.dimensions}"

    @property
    def dimensions(self):
        """The configuration's size as a label names it: the strategy's `shape`, then -hopH with a hop input."""
        return self.shape + (f"-hop{self.hop_bits}" if self.hop_bits else "")

    def __post_init__(self):
        """The shared fields, the strategy's own (`check_own`), then that exp_bits holds every exponent."""
        if self.exp_bits is not None:
            _check_range("exp_bits", self.exp_bits, *EXP_BITS)
        _check_range("length_bits", self.length_bits, *LENGTH_BITS)
        _check_range("hop_bits", self.hop_bits, 0, self.length_bits)
        self.check_own()
        if self.exp_bits is not None:
            self._check_exponent_field()

    def check_own(self):
        """Check the strategy's own fields (a SpecError naming the bad value)."""

    def to_dict(self):
        data = {"strategy": self.strategy, **dataclasses.asdict(self)}
        if not self.hop_bits:
            del data["hop_bits"]
        return data

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @staticmethod
    def from_dict(data):
        """Build a spec from `to_dict` output (or a user's JSON); unknown strategies and fields are errors."""
        data = dict(data)
        strategy = data.pop("strategy", None)
        if not isinstance(strategy, str) or strategy not in STRATEGIES:
            raise SpecError(f"strategy={strategy!r} is unknown: allowed {sorted(STRATEGIES)}")
        cls = STRATEGIES[strategy]
        allowed = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(f"unknown field(s) {unknown} for strategy {strategy!r}: allowed {sorted(allowed)}")
        return cls(**data)

    @staticmethod
    def from_json(text):
        return PerturbSpec.from_dict(json.loads(text))

    @property
    def exponent_bits(self):
        """Width E of the signed exponent field: exp_bits, or the smallest that holds every exponent."""
        return self.exp_bits or exponent_bits_for(*self.exponent_range)

    def _check_exponent_field(self):
        low, high = self.exponent_range
        field_low, field_high = -(1 << (self.exp_bits - 1)), (1 << (self.exp_bits - 1)) - 1
        if low < field_low or high > field_high:
            need = exponent_bits_for(low, high)
            raise SpecError(f"exponents {low}..{high} overflow exp_bits={self.exp_bits} "
                            f"(holds {field_low}..{field_high}): allowed exp_bits {need}..{EXP_BITS[1]}")


def exponent_bits_for(low, high):
    """Smallest signed width holding every integer in low..high (at least EXP_BITS[0])."""
    bits = EXP_BITS[0]
    while not -(1 << (bits - 1)) <= low <= high <= (1 << (bits - 1)) - 1:
        bits += 1
    return bits


@dataclasses.dataclass(frozen=True)
class OtfSpec(PerturbSpec):
    """On-the-fly generation: `generators` LFSRs of `width` bits, rotated by one generator every word.

    seed: the reference generator's initial state, 1..2^width - 1 (an LFSR state of zero never leaves zero).
    leap: LFSR steps each generator takes per word (a leap-ahead LFSR), 1 .. 4 width, coprime with 2^width - 1
    (docs/spec.md section 4b). With a leap of width or more every word's states are wholly new bits, which removes
    the correlation of value v with value v + generators - 1 (the same generator a word later); a leap above 1
    costs about one LUT per bit. to_dict records leap only when it is above 1.
    reload: the hardware's replay (docs/spec.md sections 4a and 7): 0 restores a shadow copy of the array in one
    cycle; 1 rebuilds the array through its shift path in generators + (start mod generators) cycles, with about
    half the LUTs and 57% of the flip-flops at 31x8 (bench/replay_cost.py). The stream is the same either way; to_dict records reload only
    when it is 1, so specs and manifests without it keep their meaning.
    """
    generators: int = 31
    width: int = 8
    seed: int = 1
    reload: int = 0
    leap: int = 1

    strategy = "otf"
    source = "pezo-otf"

    def check_own(self):
        _check_range("width", self.width, lfsr.MIN_WIDTH, lfsr.MAX_WIDTH)
        states = lfsr.period(self.width)
        _check_range("generators", self.generators, 1, min(MAX_GENERATORS, states))
        _check_range("seed", self.seed, 1, states)
        _check_range("reload", self.reload, 0, 1)
        _check_range("leap", self.leap, 1, 4 * self.width)
        if math.gcd(self.leap, states) > 1:
            allowed = [k for k in range(1, 4 * self.width + 1) if math.gcd(k, states) == 1]
            raise SpecError(f"leap={self.leap} shares a factor with 2^{self.width} - 1 = {states}, which would "
                            f"shorten the period: allowed {allowed}")
        if self.reload and self.generators < 2:
            raise SpecError("reload=1 needs generators >= 2 (one generator's shadow is already a single state)")
        if _is_power_of_two(self.generators) and self.generators > 1:
            warnings.warn(f"generators={self.generators} is a power of two: the rotation repeats in regular "
                          f"patterns; 2^k - 1 (e.g. {2 * self.generators - 1}) avoids that", RegularPatternWarning,
                          stacklevel=4)

    def to_dict(self):
        data = super().to_dict()
        for name, default in (("reload", 0), ("leap", 1)):
            if getattr(self, name) == default:
                del data[name]
        return data

    @property
    def lanes(self):
        return self.generators

    @property
    def shape(self):
        return (f"{self.generators}x{self.width}" + (f"-leap{self.leap}" if self.leap > 1 else "")
                + ("-reload" if self.reload else ""))

    def words(self):
        from .otf import OtfWords
        return OtfWords(self)

    @property
    def mantissa_bits(self):
        return self.width

    @property
    def exponent_range(self):
        """(lowest, highest) exponent of any word: the exponent table's range."""
        from .otf import exponent_table
        return exponent_table(self).exponent_range

    @property
    def period_words(self):
        """Words after which the whole stream (mantissas and exponents) repeats."""
        return math.lcm(lfsr.period(self.width), self.generators)


@dataclasses.dataclass(frozen=True)
class PoolSpec(PerturbSpec):
    """Pre-generated pool of `size` signed `bits`-bit values in BRAM, read `lanes` values per word, cyclically.

    seed: seeds the offline generator that fills the pool, 1..2^64 - 1.
    balanced: 1 fills the pool with +-pairs (and one zero when size is odd) in a seeded order, scaled so that the
    mean is exactly 0 and the mean square 1 within one LSB's effect (docs/spec.md section 6a); the hardware is the
    same, only the ROM contents change. to_dict records it only when it is 1.
    slip: 1 starts every pass through the pool one word later than the pass before (word w reads pool word
    (w + floor(w / D)) mod D, D = size / lanes), so the stream's period grows from D to D^2 words and a run's
    perturbations are no longer confined to a subspace of D lanes dimensions (docs/spec.md section 6b). Costs a
    second pointer. to_dict records it only when it is 1.
    """
    size: int = 4095
    bits: int = 12
    lanes: int = 1
    seed: int = 1
    balanced: int = 0
    slip: int = 0

    strategy = "pool"
    source = "pezo-pool"

    def check_own(self):
        _check_range("size", self.size, 2, MAX_POOL_SIZE)
        _check_range("bits", self.bits, *POOL_BITS)
        _check_range("lanes", self.lanes, 1, self.size // 2)
        _check_range("seed", self.seed, 1, MAX_SPLITMIX_SEED)
        _check_range("balanced", self.balanced, 0, 1)
        _check_range("slip", self.slip, 0, 1)
        if self.size % self.lanes:
            divisors = [d for d in range(1, min(self.size // 2, 64) + 1) if self.size % d == 0]
            raise SpecError(f"lanes={self.lanes} does not divide size={self.size}: each lane reads its own bank "
                            f"of size/lanes entries; allowed lanes include {divisors}")
        if _is_power_of_two(self.size):
            warnings.warn(f"size={self.size} is a power of two: leftover shifting then repeats in regular "
                          f"patterns; 2^k - 1 (e.g. {max(self.size - 1, 3)}) avoids that", RegularPatternWarning,
                          stacklevel=4)

    def to_dict(self):
        data = super().to_dict()
        for name in ("balanced", "slip"):
            if not getattr(self, name):
                del data[name]
        return data

    @property
    def mantissa_bits(self):
        return self.bits

    @property
    def shape(self):
        return (f"{self.size}x{self.bits}" + (f"-l{self.lanes}" if self.lanes > 1 else "")
                + ("-balanced" if self.balanced else "") + ("-slip" if self.slip else ""))

    def words(self):
        from .pool import PoolWords
        return PoolWords(self)

    @property
    def exponent_range(self):
        """(lowest, highest) exponent of any word: the pool's one exponent, twice."""
        from .pool import pool_table
        exponent = pool_table(self).exponent
        return exponent, exponent

    @property
    def pool_words(self):
        """D: the words of one pass through the pool (entries per bank)."""
        return self.size // self.lanes

    @property
    def period_words(self):
        """D, or D^2 with slip: every pass starts one word later, so D passes return to the first."""
        return self.pool_words * (self.pool_words if self.slip else 1)


@dataclasses.dataclass(frozen=True)
class CltSpec(PerturbSpec):
    """The MeZO baseline's Gaussian generator (golden/gaussian.py, docs/spec.md section 6c): `lanes` central-limit
    lanes, each a 63-bit LFSR that leaps 48 steps a word and emits the sum of its four freshest 12-bit fields less
    8190 as a 15-bit mantissa; every word's exponent is -11, the power of two nearest 1 / sigma, so the values
    have mean square 4/3, about the otf stream's.

    seed: lane j starts at splitmix64 draw j of the seed (63 bits; 0 becomes 1), 1..2^64 - 1.
    """
    lanes: int = 1024
    seed: int = 1

    strategy = "clt"
    source = "clt-gaussian"

    def check_own(self):
        _check_range("lanes", self.lanes, 1, MAX_CLT_LANES)
        _check_range("seed", self.seed, 1, MAX_SPLITMIX_SEED)

    @property
    def shape(self):
        return str(self.lanes)

    def words(self):
        from .gaussian import CltWords
        return CltWords(self)

    @property
    def mantissa_bits(self):
        from .gaussian import OUTPUT_BITS
        return OUTPUT_BITS

    @property
    def exponent_range(self):
        """(lowest, highest) exponent of any word: the one constant exponent, twice."""
        from .gaussian import EXPONENT
        return EXPONENT, EXPONENT

    @property
    def period_words(self):
        """Every lane's LFSR repeats after 2^63 - 1 words (48 is coprime with it)."""
        from .gaussian import PERIOD_WORDS
        return PERIOD_WORDS

    @property
    def independent_mean_square(self):
        """Lanes have their own seeds and every word's uniforms are fresh LFSR bits: independent values."""
        from .gaussian import MEAN_SQUARE
        return MEAN_SQUARE


FIELDS = {name: cls.own_fields() for name, cls in STRATEGIES.items()}
"""Each registered strategy's own fields."""
SHARED = PerturbSpec.shared_fields()
"""The fields every strategy has."""
ALL_FIELDS = sorted({field for fields in FIELDS.values() for field in fields} | set(SHARED))
"""Every spec field name, sorted."""

PAPER_DEFAULTS = {
    "otf-31x8": OtfSpec(generators=31, width=8),
    "otf-31x14": OtfSpec(generators=31, width=14),
    "pool-4095x12": PoolSpec(size=4095, bits=12),
}
"""The PeZO paper's default configurations, by name."""
