"""What the report infers from configurations: families along one generator field, the Pareto front, where a
gain stops, and whether two configurations differ beyond noise.

Noise rule: two means differ when their difference exceeds SIGNIFICANCE times the root of the sum of their squared
standard errors (about a 95% two-sided test for normal errors).
"""
import dataclasses
import json
import math

FIELDS = ("size", "generators", "width", "bits", "lanes", "generator_seed")
"""The generator fields a family may vary along."""
SIGNIFICANCE = 2.0
WARNED = ("size", "generators")
"""The fields whose powers of two the PeZO paper avoids (they line up with layers' weight counts)."""


@dataclasses.dataclass
class Family:
    """Configurations alike in everything but `field`: `line` holds (value, Configuration) in ascending order;
    `controls` the power-of-two pool sizes or RNG counts whose 2^k - 1 neighbour is on the line (the PeZO paper's
    warning)."""
    field: str
    label: str
    line: list
    controls: list


def families(groups, field):
    """The Families along `field` with at least two values on their line."""
    found = {}
    for group in groups:
        value = group.field(field)
        if value is None:
            continue
        rest = {**group.settings, "spec": {k: v for k, v in group.spec.items() if k != _spec_name(field)}}
        found.setdefault(json.dumps(rest, sort_keys=True), []).append((value, group))
    result = []
    for members in found.values():
        members.sort(key=lambda member: member[0])
        values = {value for value, _ in members}
        controls = [(v, g) for v, g in members
                    if field in WARNED and v > 2 and v & (v - 1) == 0 and v - 1 in values]
        line = [(v, g) for v, g in members if (v, g) not in controls]
        if len(line) >= 2:
            result.append(Family(field, _family_label(line[0][1], field), line, controls))
    return result


def _spec_name(field):
    from .grid import SPEC_FIELDS
    return SPEC_FIELDS[field]


def _family_label(group, field):
    """A configuration's label with the varying field's value left out of its generator name."""
    spec = group.spec
    fixed = ", ".join(f"{name} {value}" for name, value in spec.items()
                      if name not in ("strategy", _spec_name(field), "length_bits") and value is not None)
    return f"{group.settings['perturb']} ({fixed}), {group.settings['method']}"


def known(group, name):
    """Whether the configuration's `name` has a standard error (not a single step of a single seed)."""
    return not math.isnan(group.se(name))


def differs(first, second, name):
    """Whether configuration `first`'s mean of `name` exceeds `second`'s beyond noise (a positive difference)."""
    noise = math.sqrt(first.se(name) ** 2 + second.se(name) ** 2)
    return not math.isnan(noise) and first.mean(name) - second.mean(name) > SIGNIFICANCE * noise


def gain_stops(family, name="final_loss"):
    """The index on the family's line past which no larger value lowers `name` beyond noise."""
    line = family.line
    for index, (_, group) in enumerate(line):
        if not any(differs(group, later, name) for _, later in line[index + 1:]):
            return index
    return len(line) - 1


def front(groups, name="final_loss", lower=True):
    """The priced configurations no other one dominates. One dominates another when it costs no more (LUTs + FFs
    and BRAM), its `name` is not worse beyond noise, and it is cheaper in one of them or better beyond noise: a
    difference within noise is a tie, so a dearer configuration does not reach the front on noise alone. Without
    a noise estimate the means are compared as they are."""
    priced = [group for group in groups if group.cost]

    def better(a, b):
        if known(a, name) and known(b, name):
            return differs(b, a, name) if lower else differs(a, b, name)
        return a.mean(name) < b.mean(name) if lower else a.mean(name) > b.mean(name)

    def dominates(a, b):
        cost_a, cost_b = (a.cost["lut_ff"], a.cost["bram36"]), (b.cost["lut_ff"], b.cost["bram36"])
        if not all(x <= y for x, y in zip(cost_a, cost_b)) or better(b, a):
            return False
        return cost_a != cost_b or better(a, b)

    return [group for group in priced if not any(dominates(other, group) for other in priced)]
