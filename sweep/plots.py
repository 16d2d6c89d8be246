"""The report's PNG plots: test accuracy and final loss along each generator field, cost against quality with the
Pareto front, every point's learning curve, each configuration's loss against MeZO's Gaussian's, the loss of a
generator of few distinct perturbations against the same generator of more, and each variant's (a leap, a zero-mean
pool, scale compensation) against its plain twin's, step by step."""
import math
import statistics
from collections import Counter

import numpy as np

from pezo import files

from .analysis import FIELDS, SIGNIFICANCE, VARIANTS, families, front, paired_losses, reach_pairs, \
    reference_pairs, references_named, training_budget, variant_pairs

AXIS = {"size": "pool size (entries)", "generators": "LFSRs (RNG count)", "width": "LFSR width (bits)",
        "bits": "pool value bits", "lanes": "lanes per word", "generator_seed": "generator seed"}
OFFSETS = [(dx, dy) for dy in (3, -10, 12, -19, 21, -28, 30, -37) for dx in (4, -4)]
"""Where a point's label may go: (dx, dy) in typographic points from the point, positive right and up, nearest
first."""
QUALITY = (("test_accuracy", "test accuracy (dev-selected)"), ("final_loss", "final train loss"))


def write_all(groups, folder):
    """Write every plot the data allows into `folder`; returns the file names."""
    import matplotlib
    matplotlib.use("Agg")
    made = []
    for field in FIELDS:
        found = families(groups, field)
        if found:
            made.append(_save(_along(field, found), folder / f"{field}.png"))
    if any(group.cost for group in groups):
        made.append(_save(_pareto(groups), folder / "pareto.png"))
    if any(row["losses"] for group in groups for row in group.rows):
        made.append(_save(_curves(groups), folder / "curves.png"))
    against = _against_gaussian(groups)
    if against:
        made.append(_save(_against(against), folder / "against-gaussian.png"))
    confined = [(small, large) for small, large in reach_pairs(groups) if paired_losses(small, large)
                and small.rows[0]["quality_reach"] < small.rows[0]["steps_done"]]
    if confined:
        made.append(_save(_reach(confined), folder / "reach.png"))
    variants = [(name, group, base) for name, group, base in variant_pairs(groups) if paired_losses(group, base)]
    if variants:
        made.append(_save(_variants(variants), folder / "variants.png"))
    return [path.name for path in made]


def running(losses):
    """`losses` as the plots draw them: their running mean over a 50th of the steps."""
    return smoothed(list(losses), max(1, len(losses) // 50))


def smoothed(losses, window):
    """The running mean of `losses` over the last `window` steps (fewer at the start)."""
    total, found = 0.0, []
    for step, loss in enumerate(losses):
        total += loss - (losses[step - window] if step >= window else 0.0)
        found.append(total / min(step + 1, window))
    return found


PANELS_FROM = 7
"""From this many configurations on, the learning curves get a panel each: on one axis their seeds would tangle."""


def _curves(groups):
    """Learning curves: every point's train loss against the step (a running mean over a 50th of the steps), a line
    per seed; a colour per configuration on one axis, or from PANELS_FROM configurations on a panel each with a
    colour per seed. The loss axis spans the curves of the configurations whose final losses are not outliers (a
    diverged run would flatten every other curve); a configuration drawn beyond it is labelled clipped."""
    from matplotlib import pyplot
    curves = {group.key: [(row["seed"], running(row["losses"]))
                          for row in group.rows if row["losses"]] for group in groups}
    drawn = [group for group in groups if curves[group.key]]
    finals = [group.mean("final_loss") for group in drawn]
    low, high = _inlier_range([final for final in finals if math.isfinite(final)],
                              [_finite(row["final_loss_se"]) for group in drawn for row in group.rows])
    inside = [value for group, final in zip(drawn, finals) if low <= final <= high
              for _, curve in curves[group.key] for value in curve if math.isfinite(value)]
    bottom, top = _padded(min(inside), max(inside)) if inside else (None, None)

    def label(group):
        clipped = inside and any(not bottom <= value <= top for _, curve in curves[group.key] for value in curve)
        return group.label + (" (clipped)" if clipped else "")

    ylabel = "train loss (running mean over a 50th of the steps)"
    if len(drawn) >= PANELS_FROM:
        return _curve_panels([(group.label, curves[group.key]) for group in drawn], (bottom, top), ylabel,
                             "Learning curves: every seed of every configuration")
    figure, axes = pyplot.subplots(figsize=(11, 5.5))
    for group in drawn:
        colour = None
        for _, curve in curves[group.key]:
            line, = axes.plot(range(1, len(curve) + 1), curve, lw=1, color=colour,
                              label=None if colour else label(group))
            colour = line.get_color()
    axes.set(xlabel="step", ylabel=ylabel, title="Learning curves: every seed of every configuration",
             ylim=(bottom, top))
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    return figure


def _curve_panels(panels, limits, ylabel, title, zero=False):
    """A panel per (label, [(seed, curve)]), four to a row, on shared axes (`limits` the loss axis's, None: their
    own; a panel whose curves leave it is labelled clipped), a colour per seed; `zero`: a line at zero in each
    (curves of differences)."""
    from matplotlib import pyplot
    rows = math.ceil(len(panels) / 4)
    figure, axes = pyplot.subplots(rows, 4, figsize=(14, 2.3 * rows + 0.8), sharex=True, sharey=True,
                                   squeeze=False, layout="constrained")
    seeds = sorted({seed for _, curves in panels for seed, _ in curves})
    for panel, (label, curves) in zip(axes.flat, panels):
        for seed, curve in curves:
            panel.plot(range(1, len(curve) + 1), curve, lw=0.8, color=f"C{seeds.index(seed) % 10}",
                       label=f"seed {seed}")
        clipped = None not in limits and any(not limits[0] <= value <= limits[1] for _, curve in curves
                                             for value in curve if math.isfinite(value))
        panel.set_title(label + (" (clipped)" if clipped else ""), fontsize=7)
        if zero:
            panel.axhline(0, lw=0.5, color="black")
    for panel in axes.flat[len(panels):]:
        panel.set_visible(False)
    axes[0, 0].set(ylim=limits)
    axes[0, 0].legend(fontsize=6, loc="upper right")
    figure.supxlabel("step")
    figure.supylabel(ylabel)
    figure.suptitle(f"{title}, a panel each")
    return figure


def _against_gaussian(groups):
    """[(configuration, its loss minus the Gaussian's of its budget step by step, the mean over the seeds both ran
    with equal steps, as a list; the number of such seeds; that Gaussian)] of every configuration that has any."""
    found = []
    for group, gaussian in reference_pairs(groups):
        steps = [difference for difference, _ in paired_losses(group, gaussian).values()]
        if steps and len({len(difference) for difference in steps}) == 1:
            found.append((group, np.mean(steps, axis=0).tolist(), len(steps), gaussian))
    return found


def _against(found):
    """Each configuration's loss minus MeZO's Gaussian's, step by step (`_against_gaussian`; a running mean over a
    50th of the steps), a line each: batch noise shared by the runs cancels, so what stays is the configurations'
    own difference as it develops. The axis spans the configurations whose final differences are not outliers; one
    drawn beyond it is labelled clipped. From PANELS_FROM configurations on, a panel each with a line per seed."""
    from matplotlib import pyplot
    several = len({id(gaussian) for *_, gaussian in found}) > 1
    curves = [(group, running(steps), seeds, f" against {gaussian.label}" * several)
              for group, steps, seeds, gaussian in found]
    low, high = _inlier_range([curve[-1] for _, curve, _, _ in curves],
                              [_finite(row["final_loss_se"]) for group, *_ in curves for row in group.rows])
    inside = [value for _, curve, _, _ in curves if low <= curve[-1] <= high for value in curve]
    bottom, top = _padded(min(inside + [0.0]), max(inside + [0.0]))
    ylabel = "loss minus the Gaussian's (running mean over a 50th of the steps)"
    title = f"Against MeZO's Gaussian ({references_named(entry[3] for entry in found)})"
    if len(found) >= PANELS_FROM:
        panels = [(f"{group.label}{against}", [(seed, running(steps)) for seed,
                                               (steps, _) in paired_losses(group, gaussian).items()])
                  for (group, _, _, against), (*_, gaussian) in zip(curves, found)]
        seeds = [value for (_, mean, _, _), (_, lines) in zip(curves, panels) if low <= mean[-1] <= high
                 for _, line in lines for value in line]
        return _curve_panels(panels, _padded(min(seeds + [0.0]), max(seeds + [0.0])), ylabel,
                             f"{title}: every seed both ran", zero=True)
    figure, axes = pyplot.subplots(figsize=(11, 5.5))
    for group, curve, seeds, against in curves:
        clipped = any(not bottom <= value <= top for value in curve)
        axes.plot(range(1, len(curve) + 1), curve, lw=1, label=f"{group.label}{against} ({seeds} seed"
                  f"{'s' * (seeds > 1)})" + (" (clipped)" if clipped else ""))
    axes.axhline(0, lw=0.5, color="black")
    axes.set(xlabel="step", ylabel=ylabel, title=f"{title}: the mean over the seeds both ran", ylim=(bottom, top))
    axes.legend(fontsize=7, loc="upper left", ncol=2 if len(curves) > 8 else 1)
    figure.tight_layout()
    return figure


def _reach(pairs):
    """Per configuration whose K is below its steps, its loss minus each larger-K twin's (a running mean over a
    50th of the steps, a line per seed both ran), K marked: where the difference rises after K, the smaller K's
    loss flattened there."""
    panels = {}
    for small, large in pairs:
        panels.setdefault(small.key, (small, []))[1].append(large)
    figure, axes = _stacked(len(panels))
    for panel, (small, larges) in zip(axes, panels.values()):
        for large in larges:
            colour = None
            for steps, _ in paired_losses(small, large).values():
                curve = running(steps)
                line, = panel.plot(range(1, len(curve) + 1), curve, lw=1, color=colour,
                                   label=None if colour else f"minus {large.label} "
                                                             f"(K {large.rows[0]['quality_reach']:,})")
                colour = line.get_color()
        reach = small.rows[0]["quality_reach"]
        panel.axvline(reach, ls="--", lw=1, color="grey")
        _difference_panel(panel, f"{small.label}: K = {reach:,} (dashed)")
    return _finished(figure, axes)


def _variants(pairs):
    """A panel per variant pair (analysis.variant_pairs): the variant's loss minus its plain twin's, a running mean
    over a 50th of the steps, a line per seed both ran: above zero the variant trains worse, and where a line
    keeps drifting the difference was still growing."""
    figure, axes = _stacked(len(pairs))
    for panel, (name, group, base) in zip(axes, pairs):
        for seed, (steps, _) in paired_losses(group, base).items():
            curve = running(steps)
            panel.plot(range(1, len(curve) + 1), curve, lw=1, label=f"seed {seed}")
        _difference_panel(panel, f"{group.label} minus {base.label}: {VARIANTS[name]}")
    return _finished(figure, axes)


def _stacked(count):
    """(figure, its `count` panels) stacked on one step axis, for curves of loss differences."""
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(count, 1, figsize=(11, 2.8 * count), squeeze=False, sharex=True)
    return figure, axes[:, 0]


def _difference_panel(panel, title):
    """A stacked panel's line at zero, title and legend."""
    panel.axhline(0, lw=0.5, color="black")
    panel.set(title=title, ylabel="loss difference")
    panel.legend(fontsize=7, loc="upper left")


def _finished(figure, axes):
    axes[-1].set(xlabel="step")
    figure.tight_layout()
    return figure


def _save(figure, path):
    from matplotlib import pyplot
    with files.staged_file(path) as staging:
        figure.savefig(staging, dpi=110, format="png")
    pyplot.close(figure)
    return path


def _along(field, found):
    """Accuracy and loss against `field`, a line per family (mean ± standard error, seeds as dots); power-of-two
    controls as crosses, drawn just right of their 2^k - 1 neighbour (on a log axis the two would coincide)."""
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4.6))
    logarithmic = field in ("size", "generators")
    for family in found:
        for panel, (name, title) in zip(axes, QUALITY):
            xs = [value for value, _ in family.line]
            line = panel.errorbar(xs, [group.mean(name) for _, group in family.line],
                                  yerr=[group.se(name) for _, group in family.line], marker="o", capsize=3,
                                  label=family.label)
            colour = line[0].get_color()
            for value, group in family.line:
                panel.plot([value] * len(group.rows), [row[name] for row in group.rows], ".", color=colour,
                           alpha=0.4)
            for value, group in family.controls:
                shown = value * 1.18 if logarithmic else value + 0.25
                panel.errorbar([shown], [group.mean(name)], yerr=[group.se(name)], marker="x", markersize=9,
                               color=colour, capsize=3, linestyle="none",
                               label=f"{value} (power of two, drawn beside {value - 1})")
            panel.set(xlabel=AXIS[field], ylabel=title)
            if logarithmic:
                panel.set_xscale("log", base=2)
    values = sorted({value for family in found for value, _ in family.line})
    for panel in axes:
        panel.set_xticks(values, labels=[str(value) for value in values], minor=False)
        panel.minorticks_off()
        _scale(panel)
    _legend(figure, axes[0])
    figure.suptitle(f"Quality against {AXIS[field]} (mean ± standard error over seeds; dots: seeds)")
    return figure


def _pareto(groups):
    """Final loss and test accuracy against LUTs + FFs for the priced configurations (mean ± standard error, a
    colour per source, BRAM named in the label), each panel's front joined (a line per training budget); sources
    without hardware as
    horizontal lines. A configuration far outside the others' range (a diverged run) sits on the panel's edge as a
    triangle, its value in its label, so that it does not flatten the rest; one without a value is left out."""
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(1, 2, figsize=(13, 6.5))
    priced = [group for group in groups if group.cost]
    sources = sorted({group.settings["perturb"] for group in priced})
    colours = {source: f"C{index % 10}" for index, source in enumerate(sources)}
    costs = Counter(group.cost["lut_ff"] for group in priced)
    labels = []
    for panel, (name, title) in zip(axes, QUALITY):
        valued = [group for group in groups if math.isfinite(group.mean(name))]
        low, high = _inlier_range([g.mean(name) for g in valued], [_finite(g.se(name)) for g in valued])
        inside = [group for group in valued if low <= group.mean(name) <= high]
        bottom, top = _padded(min((g.mean(name) - _finite(g.se(name)) for g in inside), default=0.0),
                              max((g.mean(name) + _finite(g.se(name)) for g in inside), default=1.0))
        placed = []
        labels.append(placed)
        for group in valued:
            x, y, colour = (group.cost or {}).get("lut_ff"), group.mean(name), colours.get(group.settings["perturb"])
            source = group.label.split(",")[0]
            if x is None:
                if low <= y <= high:
                    panel.axhline(y, linestyle="--", linewidth=0.8, color="grey")
                    placed.append((f"{source} (no hardware)", None, y))
                continue
            bram = group.cost["bram36"]
            label = (source if costs[x] > 1 else source.split(" ", 1)[-1]) + (f" +{bram:g} BRAM36" if bram else "")
            if low <= y <= high:
                panel.errorbar([x], [y], yerr=[group.se(name)], marker="o", markersize=4, capsize=2, color=colour,
                               linestyle="none")
            else:
                edge = top if y > high else bottom
                panel.plot([x], [edge], "^" if y > high else "v", color=colour)
                label, y = f"{source}: {y:.4g}, off scale", edge
            placed.append((label, x, y))
        fronts = {}
        for group in front(groups, name, lower=name == "final_loss"):
            if math.isfinite(group.mean(name)):
                fronts.setdefault(training_budget(group), []).append(group)
        for index, best in enumerate(fronts.values()):
            best.sort(key=lambda group: group.cost["lut_ff"])
            panel.plot([g.cost["lut_ff"] for g in best], [min(max(g.mean(name), bottom), top) for g in best], "o-",
                       color="crimson", zorder=0, linewidth=2, markersize=8, alpha=0.5,
                       label=None if index else "Pareto front (LUTs + FFs, BRAM, quality within noise)"
                       + (", one per training budget" if len(fronts) > 1 else ""))
        for source in sources:
            panel.plot([], [], "o", color=colours[source], label=source)
        panel.set(xscale="log", xlabel="LUTs + FFs (Yosys estimate, UltraScale+)", ylabel=title, ylim=(bottom, top))
    figure.suptitle("Hardware cost against quality (mean ± standard error)")
    _legend(figure, axes[0])
    for panel, placed in zip(axes, labels):
        _annotate(figure, panel, placed)
    return figure


def _inlier_range(values, errors):
    """The range of `values` without those far outside the middle half: beyond it by 3 times its width, or by 3
    times twice the median standard error (`errors`) where that is larger (values that are mostly equal)."""
    finite = sorted(values)
    if len(finite) < 4:
        return (finite[0], finite[-1]) if finite else (0.0, 1.0)
    q1, q3 = finite[len(finite) // 4], finite[(3 * len(finite)) // 4]
    spread = max(q3 - q1, SIGNIFICANCE * statistics.median(errors), 1e-12)
    inliers = [value for value in finite if q1 - 3 * spread <= value <= q3 + 3 * spread]
    return inliers[0], inliers[-1]


def _finite(value):
    return value if math.isfinite(value) else 0.0


def _padded(low, high):
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _annotate(figure, panel, placed):
    """Label each point (x None: a horizontal line, labelled at the left) at the first nearby offset where the
    label stays within the panel's width and overlaps no label placed before it."""
    renderer = figure.canvas.get_renderer()
    inside = panel.get_window_extent(renderer)
    taken = []
    for label, x, y in sorted(placed, key=lambda item: (item[2], item[1] or 0)):
        offsets = OFFSETS if x is not None else [offset for offset in OFFSETS if offset[0] > 0]  # lines: at the left
        for dx, dy in offsets:
            note = _note(panel, label, x, y, dx, dy)
            box = note.get_window_extent(renderer)
            if inside.x0 <= box.x0 and box.x1 <= inside.x1 and not any(box.overlaps(other) for other in taken):
                break
            note.remove()
        else:                                   # nowhere free: the first place, overlapping
            box = _note(panel, label, x, y, *offsets[0]).get_window_extent(renderer)
        taken.append(box)


def _note(panel, label, x, y, dx, dy):
    """`label` (dx, dy) points from (x, y), or from the panel's left edge at y where x is None."""
    where = dict(xy=(0.01, y), xycoords=("axes fraction", "data")) if x is None else dict(xy=(x, y))
    return panel.annotate(label, **where, xytext=(dx, dy), textcoords="offset points", fontsize=6,
                          ha="left" if dx > 0 else "right", color="dimgrey" if x is None else "black")


def _legend(figure, panel):
    """One legend for the figure, below its panels."""
    handles, labels = panel.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.05 * (1 + (len(labels) - 1) // 4), 1, 0.96))


def _scale(panel):
    """A logarithmic quality axis where the values span more than two decades (a diverged run's loss)."""
    low, high = panel.dataLim.y0, panel.dataLim.y1
    if low > 0 and high / low > 100:
        panel.set_yscale("log")
