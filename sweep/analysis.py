"""What the report infers from configurations: families along one generator field, the Pareto front, where a
gain stops, and whether two configurations differ beyond noise.

Noise rule: two configurations differ in a measure when their difference exceeds SIGNIFICANCE times its standard
error (about a 95% two-sided test for normal errors). Where they ran two or more seeds in common, the difference is
paired (`paired`): points with one seed see the same data and batches, so most of their noise is shared and cancels in a
difference taken step by step and test example by test example; otherwise it is the difference of their means, with
the root of the sum of their squared standard errors.
"""
import dataclasses
import json
import math
import statistics

import numpy as np

FIELDS = ("size", "generators", "width", "bits", "lanes", "generator_seed")
"""The generator fields a family may vary along."""
SIGNIFICANCE = 2.0
NO_NOISE = "no noise estimate (one seed and a loss window of one step)"
"""What a statement says where a configuration has no standard error."""
PAIRED_SEEDS = 2
"""Two configurations are compared paired only over at least this many shared seeds."""
BLOCKS = 10
"""A paired loss difference's standard error comes from the means of this many consecutive blocks of its window
(batch means): the steps' differences are correlated, because the weights change slowly, so the error of a mean
of independent steps would understate it."""
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
    result = []
    for members in _alike(groups, field):
        values = {value for value, _ in members}
        controls = [(v, g) for v, g in members if _is_control(field, v, values)]
        line = [(v, g) for v, g in members if (v, g) not in controls]
        if len(line) >= 2:
            result.append(Family(field, _family_label(line[0][1], field), line, controls))
    return result


@dataclasses.dataclass
class PowerOfTwo:
    """A power-of-two pool size or RNG count (`group`) measured beside its 2^k - 1 `neighbour`."""
    field: str
    value: int
    group: object
    neighbour: object
    label: str


def power_of_two_pairs(groups):
    """[PowerOfTwo] of every configuration whose pool size or RNG count is a power of two, alike but for it to a
    configuration one smaller: with or without a line of further values."""
    found = []
    for field in WARNED:
        for members in _alike(groups, field):
            line = dict(members)
            found += [PowerOfTwo(field, v, g, line[v - 1], _family_label(g, field)) for v, g in members
                      if _is_control(field, v, line)]
    return found


def _alike(groups, field):
    """[[(value, Configuration)]]: the configurations alike in everything but `field`, each list ascending."""
    found = {}
    for group in groups:
        value = group.field(field)
        if value is None:
            continue
        rest = {**group.settings, "spec": {k: v for k, v in group.spec.items() if k != _spec_name(field)}}
        found.setdefault(json.dumps(rest, sort_keys=True), []).append((value, group))
    return [sorted(members, key=lambda member: member[0]) for members in found.values()]


def _is_control(field, value, values):
    """Whether `value` is a power of two the PeZO paper avoids with its 2^k - 1 neighbour among `values`."""
    return field in WARNED and value > 2 and value & (value - 1) == 0 and value - 1 in values


def _spec_name(field):
    from .grid import SPEC_FIELDS
    return SPEC_FIELDS[field]


def _family_label(group, field):
    """A configuration's label with the varying field's value left out of its generator name (the spec's seed is
    the generator's, not the run's)."""
    spec = group.spec
    fixed = ", ".join(f"{'generator seed' if name == 'seed' else name} {value}" for name, value in spec.items()
                      if name not in ("strategy", _spec_name(field), "length_bits") and value is not None)
    return f"{group.settings['perturb']}{f' ({fixed})' if fixed else ''}, {group.settings['method']}"


def known(group, name):
    """Whether the configuration's `name` has a standard error (not a single step of a single seed)."""
    return not math.isnan(group.se(name))


def differs(first, second, name):
    """Whether configuration `first`'s mean of `name` exceeds `second`'s beyond noise (a positive difference)."""
    value, noise = difference(first, second, name)
    return not math.isnan(noise) and value > SIGNIFICANCE * noise


def difference(first, second, name):
    """(first's `name` minus second's, the standard error of that difference): paired over the seeds they share
    where there are enough, else the difference of their means over the seeds they share (over all their seeds
    where they share none)."""
    found = paired(first, second, name)
    if found:
        return found
    first, second = shared(first, second)
    return first.mean(name) - second.mean(name), math.sqrt(first.se(name) ** 2 + second.se(name) ** 2)


def shared(first, second):
    """The two configurations with only the runs of the seeds they share, where they share some: seeds differ in
    their training examples, so a difference of means over different seeds would count the seeds' own
    differences as the configurations'."""
    seeds = {row["seed"] for row in first.rows} & {row["seed"] for row in second.rows}
    if not seeds:
        return first, second
    return tuple(dataclasses.replace(group, rows=[row for row in group.rows if row["seed"] in seeds])
                 for group in (first, second))


def paired(first, second, name):
    """(the mean over the seeds both ran of first's `name` minus second's, its standard error), or None where they
    share fewer than PAIRED_SEEDS seeds (one seed's paired error measures the noise within its two runs, not how
    their difference varies from seed to seed, so it would claim too much). Per seed the difference is paired
    where it can be: the final loss's step by step over the loss window of runs of equal steps (its error from
    BLOCKS block means), the test accuracy's example by example where both runs recorded their answers on one test
    set (the same labels in the same order), so that only the examples they answer differently count; otherwise
    it is the difference of the two points' values. Over the seeds, the error of the mean difference comes from
    the seeds' errors, or from the spread of their differences where that is larger (or the seeds' errors are
    unknown)."""
    theirs = {row["seed"]: row for row in second.rows}
    return _over_seeds([_seed_difference(row, theirs[row["seed"]], name) for row in first.rows
                        if row["seed"] in theirs])


def _over_seeds(found):
    """(mean, standard error) of per-seed (value, error) pairs: the error from the seeds' errors, or from the
    spread of their values where that is larger (or their errors are unknown); None for fewer than PAIRED_SEEDS."""
    if len(found) < PAIRED_SEEDS:
        return None
    values = [value for value, _ in found]
    within = math.sqrt(sum(error ** 2 for _, error in found)) / len(found)
    spread = statistics.stdev(values) / math.sqrt(len(found))
    return statistics.mean(values), spread if math.isnan(within) else max(within, spread)


RUN_ONLY = ("perturb", "spec", "answer_row", "packed", "compensate_scale")
"""Settings that make the source or say how a top-N run computes, not what it trains for: the answer row and
packing give the same losses up to rounding (docs/results.md), and scale compensation leaves a unit-variance source
as it is. The forward's precision and the engine's numerics stay in the budget: they change the arithmetic beyond
rounding."""


def training_budget(group):
    """What `group` trains for (model, data, method, steps, lr, trained blocks, ...: every setting but RUN_ONLY),
    as a key: only configurations of one budget are set against each other by their final loss."""
    return json.dumps({name: value for name, value in group.settings.items() if name not in RUN_ONLY},
                      sort_keys=True)


def references_named(gaussians):
    """The Gaussian configurations `gaussians` (repeats allowed) as a heading names them."""
    return "; ".join(dict.fromkeys(gaussian.label for gaussian in gaussians))


def reference(groups, group):
    """MeZO's Gaussian configuration that `group` is set against, or None: for another source the first gaussian of
    `groups` of its training budget; for a gaussian the first of all, the baseline whose settings (lr, blocks,
    steps) it changes."""
    gaussians = [other for other in groups if other.settings.get("perturb") == "gaussian"]
    if group.settings.get("perturb") == "gaussian":
        return gaussians[0] if gaussians else None
    return next((other for other in gaussians if training_budget(other) == training_budget(group)), None)


def reference_pairs(groups):
    """[(configuration, the Gaussian of its budget)] of every configuration that has one other than itself."""
    pairs = [(group, reference(groups, group)) for group in groups]
    return [(group, gaussian) for group, gaussian in pairs if gaussian is not None and gaussian is not group]


VARIANTS = {"leap": "a leap-ahead array (values decorrelated)", "balanced": "a zero-mean pool",
            "compensate_scale": "scale compensation (lr / E[u^2], eps / sqrt(E[u^2]))"}
"""Settings that change one property of a source's perturbations (correlation, mean, step size), each set against
the same configuration without it: on where the generator spec holds the field (a spec leaves defaults out) or
the setting is true."""


def variant_pairs(groups):
    """(VARIANTS name, the configuration with it on, the one alike in all else with it off) of every such pair."""
    found = []
    for name in VARIANTS:
        alike = {}
        for group in groups:
            rest = {key: value for key, value in group.settings.items() if key != name}
            rest["spec"] = {key: value for key, value in group.spec.items() if key != name}
            alike.setdefault(json.dumps(rest, sort_keys=True), []).append(group)
        for members in alike.values():
            plain = [group for group in members if not (group.spec.get(name) or group.settings.get(name))]
            found += [(name, group, base) for base in plain for group in members if group not in plain]
    return found


REACH_FIELDS = ("hop_bits", "slip")
"""The spec fields that change only which perturbations a generator reaches (its K), not its values' kind."""


def reach_pairs(groups):
    """(smaller K, larger K) of every two configurations that differ only in REACH_FIELDS (both of bounded K, the
    smaller strictly below the larger: twins of equal K are not compared)."""
    alike = {}
    for group in groups:
        if reach_of(group) is None or not group.spec:
            continue
        spec = {name: value for name, value in group.spec.items() if name not in REACH_FIELDS}
        alike.setdefault(json.dumps({**group.settings, "spec": spec}, sort_keys=True), []).append(group)
    pairs = []
    for members in alike.values():
        ordered = sorted(members, key=reach_of)
        pairs += [(small, large) for index, small in enumerate(ordered) for large in ordered[index + 1:]
                  if reach_of(small) < reach_of(large)]
    return pairs


EQUAL_REACH = 1.1
"""Two K within this factor of each other count as equal reach."""


def equal_reach_pairs(groups):
    """(one, other) of every two configurations of one training budget and one computation (answer row, packing),
    of different generators (perturb and spec, REACH_FIELDS aside: twins differing only there are the reach
    comparisons'), whose K are within EQUAL_REACH of each other and below their steps, in `groups`' order, but for
    pairs the variant and power-of-two comparisons hold: both repeat about as many perturbations, so where one
    trains worse beyond noise, reach does not explain it."""
    elsewhere = {frozenset((id(group), id(base))) for _, group, base in variant_pairs(groups)}
    elsewhere |= {frozenset((id(pair.group), id(pair.neighbour))) for pair in power_of_two_pairs(groups)}
    bounded = [group for group in groups if reach_of(group) is not None and reach_of(group) < group.settings["steps"]]
    return [(one, other) for index, one in enumerate(bounded) for other in bounded[index + 1:]
            if _alike_but_generator(one, other) and frozenset((id(one), id(other))) not in elsewhere
            and max(reach_of(one), reach_of(other)) <= EQUAL_REACH * min(reach_of(one), reach_of(other))]


def reach_of(group):
    """The configuration's K (distinct perturbations over a run; None: unbounded)."""
    return group.rows[0]["quality_reach"]


def _alike_but_generator(one, other):
    """Whether two configurations share their budget and computation but not their generator (REACH_FIELDS aside)."""
    def computation(group):
        return training_budget(group), group.settings.get("answer_row"), group.settings.get("packed")

    def generator(group):
        spec = {name: value for name, value in group.spec.items() if name not in REACH_FIELDS}
        return group.settings.get("perturb"), json.dumps(spec, sort_keys=True)
    return computation(one) == computation(other) and generator(one) != generator(other)


def paired_losses(first, second):
    """{seed: (first's loss minus second's at every step, a numpy array; the loss window)} of the seeds both ran with
    equal steps and loss windows, in first's order."""
    theirs = {row["seed"]: row for row in second.rows}
    return {mine["seed"]: (np.asarray(mine["losses"]) - np.asarray(other["losses"]), mine["loss_window"])
            for mine, other in ((row, theirs.get(row["seed"])) for row in first.rows)
            if other is not None and mine["losses"] and mine["steps_done"] == other["steps_done"]
            and mine["loss_window"] == other["loss_window"]}


def growth_after(first, second, step):
    """(how much first's loss minus second's grew from the loss window that begins after `step` to the final
    window, its standard error), paired step by step over the seeds both ran with equal steps; positive where
    first's loss fell less than second's after `step` (it flattened). None where they share fewer than
    PAIRED_SEEDS such seeds or the two windows would overlap."""
    if len({row["seed"] for row in first.rows} & {row["seed"] for row in second.rows}) < PAIRED_SEEDS:
        return None
    found = []
    for steps, window in paired_losses(first, second).values():
        if window < 2 or step + window > len(steps) - window:
            return None
        early, final = steps[step:step + window], steps[-window:]
        found.append((float(final.mean() - early.mean()), math.hypot(_block_error(early), _block_error(final))))
    return _over_seeds(found)


def final_trend(group):
    """(the mean loss of the final window minus that of the window before it, its standard error): per run from the
    two windows' block means, over the seeds as `paired` combines them (one seed: its own). None where a run has
    windows of one step or no room for two."""
    found = []
    for row in group.rows:
        window, losses = row["loss_window"], np.asarray(row.get("losses") or [])
        if window < 2 or len(losses) < 2 * window:
            return None
        final, before = losses[-window:], losses[-2 * window:-window]
        found.append((float(final.mean() - before.mean()), math.hypot(_block_error(final), _block_error(before))))
    return found[0] if len(found) == 1 else _over_seeds(found)


def _seed_difference(first, second, name):
    """(first's `name` minus second's, its standard error) for two points of one seed."""
    if (name == "final_loss" and first["loss_window"] == second["loss_window"] >= 2
            and first["steps_done"] == second["steps_done"]):
        count = first["loss_window"]
        steps = np.asarray(first["losses"][-count:]) - np.asarray(second["losses"][-count:])
        return float(steps.mean()), _block_error(steps)
    answers = first.get("test_answers"), second.get("test_answers")
    if name == "test_accuracy" and all(answers) and answers[0]["labels"] == answers[1]["labels"]:
        each = np.asarray(answers[0]["right"]) - np.asarray(answers[1]["right"])
        return float(each.mean()), float(each.std(ddof=1) / math.sqrt(len(each)))
    return first[name] - second[name], math.sqrt(first[f"{name}_se"] ** 2 + second[f"{name}_se"] ** 2)


def _block_error(values):
    """The standard error of the mean of a correlated series: from BLOCKS consecutive block means, or from the
    values themselves where there are too few for blocks of two."""
    if len(values) < 2 * BLOCKS:
        return float(values.std(ddof=1) / math.sqrt(len(values)))
    means = [block.mean() for block in np.array_split(values, BLOCKS)]
    return float(np.std(means, ddof=1) / math.sqrt(BLOCKS))


def gain_stops(family, name="final_loss"):
    """The index on the family's line past which no larger value lowers `name` beyond noise."""
    line = family.line
    for index, (_, group) in enumerate(line):
        if not any(differs(group, later, name) for _, later in line[index + 1:]):
            return index
    return len(line) - 1


def front(groups, name="final_loss", lower=True):
    """The priced configurations no other one dominates. One dominates another of its budget when it costs no more
    (LUTs + FFs and BRAM), its `name` is not worse beyond noise, and it is cheaper in one of them or better beyond
    noise: a difference within noise is a tie, so a dearer configuration does not reach the front on noise alone.
    Without a noise estimate the means are compared as they are."""
    priced = [group for group in groups if group.cost]

    def better(a, b):
        if known(a, name) and known(b, name):
            return differs(b, a, name) if lower else differs(a, b, name)
        return a.mean(name) < b.mean(name) if lower else a.mean(name) > b.mean(name)

    def dominates(a, b):
        cost_a, cost_b = (a.cost["lut_ff"], a.cost["bram36"]), (b.cost["lut_ff"], b.cost["bram36"])
        if training_budget(a) != training_budget(b) or not all(x <= y for x, y in zip(cost_a, cost_b)):
            return False
        if better(b, a):
            return False
        return cost_a != cost_b or better(a, b)

    return [group for group in priced if not any(dominates(other, group) for other in priced)]
