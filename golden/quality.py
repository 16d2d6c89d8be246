"""Perturbation quality: what a stream offers ZO training, computed exactly from one period of the golden stream.

A perturbation of d values covers W = ceil(d / lanes) words, and perturbation t starts at value t S lanes with
S = W + hop (leftover shifting, docs/spec.md sections 7 and 9; hop is 0 without a hop input). The values repeat
every N values: N divides spec.period_words x lanes, and is found as the least period of one period s of real
values (it can be shorter: otf-3x4 repeats after 5 words, not lcm(15, 3) = 15). So:

- reach K = N / gcd(S lanes, N): the number of distinct perturbations a run ever sees, whatever its steps
  (distinct starts; where d < N two of them can give the same d values, so K bounds the distinct vectors);
- every vector is periodic in the weight index with period N, so all of a run's updates lie in the periodic
  subspace of dimension min(d, N): weights i and i + N always move together;
- span: the dimension of the span of the K vectors. Their starts are the multiples of delta = gcd(S lanes, N)
  values, so they are the cyclic shifts of s by j delta, j < K. Cut s into K rows of delta values and
  take the discrete Fourier transform down each column: shift j multiplies row r of it by exp(-2 pi i r j / K), so
  the shifts span exactly one dimension per row r that is not all zero (a row counts as zero below 1e-9 sqrt(K)
  max|s|, about 10^7 times float64's rounding). For d >= N the vectors hold a whole period and this is their span;
  for d < N they are truncated and the span is given as its bound min(K, d) (`span_exact` false);
- mean E[u] and mean square E[u^2] over the period: ZO-SGD with u scaled by a is ZO-SGD with eps a and lr a^2, so
  E[u^2] != 1 is a hidden change of learning rate;
- autocorrelation r(k) over the period (cyclic, centred) at lags 1 .. 4 lanes (at least 1 .. 2 lanes + 2:
  every lag where a value meets the same generator a word or more later), its largest |r| and that lag;
- matrix rank (`matrix_rank`): rows of a weight matrix whose distance times the row length is a multiple of N
  hold the same values in every perturbation, so every perturbation of the matrix, and every combination of them
  (ZO-SGD's update without weight decay), has at most N / gcd(cols, N) distinct rows (a pool of as many entries
  as a row has values perturbs every row alike: rank one);
- step bias: for a white test gradient g, ||E[u u^T] g / E[u^2] - g|| / ||g|| under the period's statistics,
  sqrt(2 sum_k c(k)^2) / c(0) with c(k) = E[u_i u_(i+k)] over the lags above: the share of the expected ZO-SGD
  step that lands on other coordinates than the gradient's own.

Periods of more than ANALYSED_VALUES values are not read: reach and the periodic dimension are then computed
from spec.period_words (bounds, exact where that is the least period), the statistics are None. Sources of
independent values (a fresh seed per perturbation, or a spec with `independent_mean_square`: the clt lanes) are
described by `independent`.
"""
import dataclasses
import math

import numpy as np

from .stream import PERIOD_CACHE_VALUES, Stream, hop, words_per_perturbation

ANALYSED_VALUES = PERIOD_CACHE_VALUES
ZERO_ROW = 1e-9
"""A Fourier row counts as zero below ZERO_ROW sqrt(K) max|s|."""
COLUMN_CHUNK_VALUES = 1 << 22


@dataclasses.dataclass(frozen=True)
class Quality:
    """The analysis of one source for d trainable values. reach/span None: unbounded (a fresh vector every step,
    spanning min(steps, d) dimensions); statistics None: the period was too long to read."""
    values: int
    lanes: int
    period_values: int | None
    words_per_perturbation: int
    hop: int
    reach: int | None
    span: int | None
    span_exact: bool
    periodic_dimension: int
    mean: float | None
    mean_square: float | None
    autocorrelation: tuple | None
    worst_lag: int | None
    worst_correlation: float | None
    step_bias: float | None

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["autocorrelation"] = None if self.autocorrelation is None else list(self.autocorrelation)
        return data

    def warning(self, steps):
        """One line when `steps` exceed the distinct perturbations, else None."""
        if self.reach is None or steps <= self.reach:
            return None
        return (f"{steps} steps exceed the {self.reach} distinct perturbation(s) this generator gives "
                f"{self.values} trainable values: later steps repeat earlier directions (spanning at most "
                f"{self.span} dimensions)")


def lags(lanes):
    """The lags analysed: 1 .. max(4 lanes, 2 lanes + 2)."""
    return range(1, max(4 * lanes, 2 * lanes + 2) + 1)


def reach(period_values, spacing):
    """Distinct perturbations over a whole run of a stream of least period `period_values` whose perturbations
    start `spacing` values apart."""
    return period_values // math.gcd(spacing, period_values)


def analyse(spec, values, scaled=True, stream=None):
    """The Quality of the golden stream of `spec` (raw mantissas when scaled=False) for `values` trainable
    values. `stream`: that stream already made (its cached period is read, and filled for later use)."""
    if isinstance(values, bool) or not isinstance(values, int) or values < 1:
        raise ValueError(f"trainable values {values!r} must be a positive integer")
    lanes, period = spec.lanes, spec.period_words * spec.lanes
    words, extra = words_per_perturbation(spec, values), hop(spec, values)
    common = dict(values=values, lanes=lanes, words_per_perturbation=words, hop=extra)
    spacing = (words + extra) * lanes
    if spec.independent_mean_square is not None:
        return independent(values, spec.independent_mean_square, lanes, extra)
    if period > ANALYSED_VALUES:
        count = reach(period, spacing)
        return Quality(**common, period_values=period, reach=count, span=min(count, values), span_exact=False,
                       periodic_dimension=min(values, period), mean=None, mean_square=None, autocorrelation=None,
                       worst_lag=None, worst_correlation=None, step_bias=None)
    stream = stream or Stream(spec, scaled=scaled)
    s = stream.values(0, period).cpu().numpy().astype(np.float64)
    s = s[:least_period(s)]
    count, exact = reach(s.size, spacing), values >= s.size
    mean, raw = s.mean(), _raw_autocovariance(s, lags(lanes))
    centred = [(c - mean * mean) / (raw[0] - mean * mean) for c in raw[1:]]
    worst = max(range(len(centred)), key=lambda i: abs(centred[i]))
    return Quality(**common, period_values=s.size, reach=count,
                   span=_span(s, count) if exact else min(count, values), span_exact=exact,
                   periodic_dimension=min(values, s.size), mean=float(mean), mean_square=float(raw[0]),
                   autocorrelation=tuple(float(r) for r in centred), worst_lag=worst + 1,
                   worst_correlation=float(centred[worst]),
                   step_bias=float(math.sqrt(2 * sum(c * c for c in raw[1:])) / raw[0]))


def matrix_rank(period_values, rows, cols):
    """An upper bound on the rank of a run's perturbations, and of any combination of them, on a rows x cols weight
    matrix that they fill row by row (a tensor unfolded to rows of its last dimension): row r is read cols r values
    after row 0, so rows r and r' hold the same values in every perturbation whenever cols (r' - r) is a multiple
    of the stream's period N, leaving at most N / gcd(cols, N) distinct rows (a multiple of the least period gives
    a looser bound). period_values None: independent values, full rank min(rows, cols). Rules that scale elements
    one by one (ZO-Adam, HiZOO, Sparse-MeZO's masks) or decay the weights move a matrix outside it; the
    perturbations themselves, what every method probes, stay within it."""
    full = min(rows, cols)
    return full if period_values is None else min(full, period_values // math.gcd(cols, period_values))


def least_period(s):
    """The least p dividing len(s) with s[i] = s[i + p] cyclically: len(s) divided by each prime factor as often
    as the quotient stays a period (once it does not, no higher power of that factor can)."""
    period, rest, factor = s.size, s.size, 2
    while rest > 1:
        if factor * factor > rest:
            factor = rest
        shorter = rest % factor == 0
        while rest % factor == 0:
            rest //= factor
            shorter = shorter and np.array_equal(s[period // factor:], s[:-(period // factor)])
            period //= factor if shorter else 1
        factor += 1
    return period


def independent(values, mean_square, lanes=1, hop=0):
    """The Quality of a source that draws every value afresh and independently, zero-mean with `mean_square`,
    `lanes` values a word and `hop` words skipped between perturbations."""
    return Quality(values=values, lanes=lanes, period_values=None, words_per_perturbation=math.ceil(values / lanes),
                   hop=hop, reach=None, span=None, span_exact=True, periodic_dimension=values, mean=0.0,
                   mean_square=mean_square, autocorrelation=None, worst_lag=None, worst_correlation=0.0,
                   step_bias=0.0)


def _raw_autocovariance(s, lag_range):
    """[E[s_i s_(i+k)] for k = 0 and every lag], cyclic over the period s."""
    n = s.size
    found = [float(s @ s) / n]
    for k in lag_range:
        k %= n
        found.append(float(s[:n - k] @ s[k:] + s[n - k:] @ s[:k]) / n)
    return found


def _span(s, count):
    """Dimension of the span of the `count` cyclic shifts of s by multiples of len(s) / count (module docstring)."""
    rows = s.reshape(count, -1)
    tolerance = ZERO_ROW * math.sqrt(count) * float(np.abs(s).max())
    nonzero = np.zeros(count, dtype=bool)
    step = max(1, COLUMN_CHUNK_VALUES // count)
    for first in range(0, rows.shape[1], step):
        nonzero |= (np.abs(np.fft.fft(rows[:, first:first + step], axis=0)) > tolerance).any(axis=1)
    return int(nonzero.sum())
