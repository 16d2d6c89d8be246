"""The PeZO paper's claims about its generators, each judged from a sweep's configurations by a stated rule (the
noise rule of sweep/analysis.py): agrees, disagrees or cannot tell, with the evidence.

- pool: 2^12 pre-generated values are enough (Figure 3): no larger pool lowers the final loss beyond noise;
- RNGs: on-the-fly generation peaks at 2^5 LFSRs (Figure 3): no count beats 31 beyond noise and some is worse;
- widths: 8 to 14 bits suffice (Figure 4): from some width in 8..14 on, no wider LFSR lowers the final loss;
- naive sources: Rademacher and unscaled uniform values collapse where Gaussian trains (Table 3): a source
  collapses where no run's dev accuracy ever beats the starting weights';
- powers of two: a 2^n pool or LFSR count is worse than its 2^n - 1 neighbour (section 3.1); the evidence names
  each one's weakest matrix (train/quality.py), the rank its period leaves a weight matrix.

A line of configurations (a family along one field, sweep/analysis.py) is judged by its final loss; a source by its
final loss and test accuracy against the Gaussian's. Where the sweep lacks the configurations a claim needs, or
they have no noise estimate, the verdict is "cannot tell" and says what is missing.
"""
import dataclasses
import functools

from .analysis import NO_NOISE, differs, families, known, power_of_two_pairs, reference
from .measures import matrix_label

AGREES, DISAGREES, CANNOT_TELL = "agrees", "disagrees", "cannot tell"
POOL, RNGS, WIDTHS = 4095, 31, (8, 14)
"""The paper's defaults and range: 2^12 - 1 pool values, 2^5 - 1 LFSRs, 8 to 14 bits."""
NAME = "final_loss"


@dataclasses.dataclass
class Claim:
    claim: str
    verdict: str
    evidence: str


def judged(groups):
    """[Claim] of every claim, judged from the configurations `groups`."""
    return [pool_plateau(groups), rng_peak(groups), widths(groups), *naive_sources(groups), powers_of_two(groups)]


def _on_line(field, wanted):
    """A judge of the longest line along `field` through one of the `wanted` values ({value: Configuration}, or
    None where the sweep has no such line) made a judge of configurations, whose Claim also names each value's K
    where reach moves along the line (`_with_reach`)."""
    def wrap(judge):
        @functools.wraps(judge)
        def judge_groups(groups):
            line = _line(groups, field, wanted)
            return _with_reach(judge(line), line)
        return judge_groups
    return wrap


def _with_reach(claim, line):
    """`claim` with each value's K on its `line` (or None) where K changes along it and some K is below the steps:
    then reach moves with the field, and the line alone cannot tell the two apart."""
    if line is None:
        return claim
    reach = {value: group.rows[0].get("quality_reach") for value, group in sorted(line.items())}
    steps = min(group.settings.get("steps") or 0 for group in line.values())
    if None in reach.values() or len(set(reach.values())) < 2 or min(reach.values()) >= steps:
        return claim
    each = listed(f"{value}: {k:,}" for value, k in reach.items())
    return dataclasses.replace(claim, evidence=f"{claim.evidence}; K, the distinct perturbations each gives this "
                                               f"model (runs of {steps:,} steps), moves with it ({each}), so reach "
                                               f"enters too")


@_on_line("size", [POOL])
def pool_plateau(line):
    claim = "Pre-generation: 2^12 values are enough; a larger pool adds nothing (Figure 3)"
    if line is None:
        return Claim(claim, CANNOT_TELL, f"no line of pool sizes through {POOL}")
    at, larger = line[POOL], [value for value in line if value > POOL]
    if not larger or not _known(line):
        return Claim(claim, CANNOT_TELL, "no larger pool measured" if not larger else NO_NOISE)
    better = [value for value in larger if differs(at, line[value], NAME)]
    if better:
        return Claim(claim, DISAGREES, f"pool {listed(better)} lowers the final loss beyond noise against {POOL}")
    worse = [value for value in line if value < POOL and differs(line[value], at, NAME)]
    smaller = (f"; smaller pools worse beyond noise: {listed(worse)}" if worse else
               "; no smaller pool measured is worse beyond noise either")
    return Claim(claim, AGREES, f"no pool of {listed(larger)} lowers the final loss beyond noise" + smaller)


@_on_line("generators", [RNGS])
def rng_peak(line):
    claim = "On-the-fly generation peaks at 2^5 LFSRs (Figure 3)"
    if line is None:
        return Claim(claim, CANNOT_TELL, f"no line of LFSR counts through {RNGS}")
    if not _known(line):
        return Claim(claim, CANNOT_TELL, NO_NOISE)
    at, others = line[RNGS], [value for value in line if value != RNGS]
    better = [value for value in others if differs(at, line[value], NAME)]
    if better:
        return Claim(claim, DISAGREES, f"{listed(better)} LFSRs lower the final loss beyond noise against {RNGS}")
    worse = [value for value in others if differs(line[value], at, NAME)]
    if worse:
        return Claim(claim, AGREES, f"none beats {RNGS} beyond noise; {listed(worse)} LFSRs are worse")
    return Claim(claim, CANNOT_TELL, f"no count of {listed(others)} differs from {RNGS} beyond noise: no peak "
                                     f"resolved at this budget")


@_on_line("width", range(WIDTHS[0], WIDTHS[1] + 1))
def widths(line):
    claim = "8 to 14 bits suffice: wider LFSRs add nothing (Figure 4)"
    if line is None:
        return Claim(claim, CANNOT_TELL, f"no line of widths through {WIDTHS[0]}..{WIDTHS[1]}")
    if not _known(line):
        return Claim(claim, CANNOT_TELL, NO_NOISE)
    for width in sorted(value for value in line if WIDTHS[0] <= value <= WIDTHS[1]):
        wider = [value for value in line if value > width]
        if wider and not any(differs(line[width], line[value], NAME) for value in wider):
            return Claim(claim, AGREES, f"from {width} bits on no wider LFSR ({listed(wider)}) lowers the final "
                                        f"loss beyond noise")
    widest = max(value for value in line if value <= WIDTHS[1])
    wider = [value for value in line if value > widest]
    if not wider:
        return Claim(claim, CANNOT_TELL, f"no width above {widest} measured")
    return Claim(claim, DISAGREES, f"wider LFSRs ({listed(wider)}) still lower the final loss beyond noise")


def naive_sources(groups):
    """One Claim per naive source the sweep holds as it is (not scale-compensated): Rademacher, uniform values
    scaled to [-1, 1) and the raw LFSR integers (the paper's uniform, Table 3), each against the Gaussian of its
    budget; where the source also ran scale-compensated, the evidence says what that did against its Gaussian."""
    found = []
    for source, what in (("rademacher", "Rademacher values"), ("uniform", "uniform values in [-1, 1)"),
                         ("uniform-raw", "raw uniform LFSR integers")):
        claim = f"Naive {what} collapse where Gaussian trains (Table 3)"
        group, compensated = (next((group for group in groups if group.settings.get("perturb") == source
                                    and bool(group.settings.get("compensate_scale")) == scaled), None)
                              for scaled in (False, True))
        if group is None:
            continue
        gaussian = reference(groups, group)
        if gaussian is None:
            found.append(Claim(claim, CANNOT_TELL, "no Gaussian configuration of its budget to compare with"))
            continue
        verdict, evidence = _collapse(group, gaussian)
        scaled = _scaled(compensated, reference(groups, compensated)) if compensated else ""
        found.append(Claim(claim, verdict, evidence + scaled))
    return found


def _scaled(group, gaussian):
    """What the source's scale-compensated configuration `group` shows against `gaussian` (or None: nothing)."""
    if gaussian is None or not (known(group, NAME) and known(gaussian, NAME)):
        return ""
    verdict = ("higher than" if differs(group, gaussian, NAME) else "lower than" if differs(gaussian, group, NAME)
               else "not different beyond noise from")
    return f"; with its step size compensated (--compensate-scale) its final loss is {verdict} the Gaussian's"


def _collapse(group, reference):
    """(verdict, evidence) of whether `group` collapses (no run's dev accuracy ever beat its starting weights')
    where `reference` trains."""
    unmoved = sum(row["best_step"] == 0 for row in group.rows)
    if unmoved == len(group.rows):
        return AGREES, ("in its run" if unmoved == 1 else f"in all {unmoved} runs") + \
            " no step beat the starting weights on dev"
    if not (known(group, NAME) and known(reference, NAME)):
        return CANNOT_TELL, NO_NOISE
    worse = [what for what, beyond in (("test accuracy is lower", differs(reference, group, "test_accuracy")),
                                       ("final loss is higher", differs(group, reference, NAME))) if beyond]
    return DISAGREES, ("it trains" + (f", though its {' and its '.join(worse)} than the Gaussian's beyond noise"
                                      if worse else ": final loss and test accuracy not worse than the Gaussian's "
                                                    "beyond noise"))


def powers_of_two(groups):
    claim = "A 2^n pool size or LFSR count is worse than 2^n - 1 (the paper avoids powers of two)"
    pairs = power_of_two_pairs(groups)
    if not pairs:
        return Claim(claim, CANNOT_TELL, "no power of two beside its 2^n - 1 neighbour in this sweep")
    if not all(known(pair.group, NAME) and known(pair.neighbour, NAME) for pair in pairs):
        return Claim(claim, CANNOT_TELL, NO_NOISE)
    worse = [f"{pair.field} {pair.value}" for pair in pairs if differs(pair.group, pair.neighbour, NAME)]
    better = [f"{pair.field} {pair.value}" for pair in pairs if differs(pair.neighbour, pair.group, NAME)]
    ranks = "; weakest matrix " + listed(f"{pair.field} {pair.value}: {matrix_label(pair.group.rows[0])} against "
                                         f"{matrix_label(pair.neighbour.rows[0])}" for pair in pairs)
    if better:
        return Claim(claim, DISAGREES, f"{listed(better)} lower the final loss beyond noise against 2^n - 1{ranks}")
    if worse:
        return Claim(claim, AGREES, f"{listed(worse)} raise the final loss beyond noise against 2^n - 1{ranks}")
    return Claim(claim, CANNOT_TELL, f"none of {listed(f'{pair.field} {pair.value}' for pair in pairs)} "
                                     f"differs from 2^n - 1 beyond noise{ranks}")


def _line(groups, field, wanted):
    """{value: Configuration} of the longest family along `field` through one of the `wanted` values, or None."""
    lines = [dict(family.line) for family in families(groups, field)]
    lines = [line for line in lines if any(value in line for value in wanted)]
    return max(lines, key=len) if lines else None


def _known(line):
    return all(known(group, NAME) for group in line.values())


def listed(values, word="and"):
    """Values as a list in words: "a, b and c" (or `word` instead of "and")."""
    values = [str(value) for value in values]
    return ", ".join(values[:-1]) + f" {word} " + values[-1] if len(values) > 1 else "".join(values)
