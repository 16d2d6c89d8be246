"""The report's PNG plots: test accuracy and final loss along each generator field, and cost against quality with
the Pareto front."""
from pezo import files

from .analysis import FIELDS, families, front

AXIS = {"size": "pool size (entries)", "generators": "LFSRs (RNG count)", "width": "LFSR width (bits)",
        "bits": "pool value bits", "lanes": "lanes per word", "generator_seed": "generator seed"}
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
    return [path.name for path in made]


def _save(figure, path):
    from matplotlib import pyplot
    with files.staged_file(path) as staging:
        figure.savefig(staging, dpi=110, format="png")
    pyplot.close(figure)
    return path


def _along(field, found):
    """Accuracy and loss against `field`, a line per family (mean ± standard error, seeds as dots); power-of-two
    controls as crosses."""
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4.2))
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
                panel.errorbar([value], [group.mean(name)], yerr=[group.se(name)], marker="x", markersize=9,
                               color=colour, capsize=3, linestyle="none", label=f"{value} (power of two)")
            panel.set(xlabel=AXIS[field], ylabel=title)
            if field in ("size", "generators"):
                panel.set_xscale("log", base=2)
    values = sorted({value for family in found for value, _ in family.line + family.controls})
    for panel in axes:
        panel.set_xticks(values, labels=[str(value) for value in values], minor=False)
        panel.minorticks_off()
        _scale(panel)
    axes[0].legend(fontsize=7)
    figure.suptitle(f"Quality against {AXIS[field]} (mean ± standard error over seeds; dots: seeds)")
    figure.tight_layout()
    return figure


def _pareto(groups):
    """Final loss and test accuracy against LUTs + FFs for the priced configurations, each panel's front joined;
    sources without hardware as horizontal lines."""
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.8))
    for panel, (name, title) in zip(axes, QUALITY):
        priced = [group for group in groups if group.cost]
        best = front(groups, name, lower=name == "final_loss")
        panel.scatter([g.cost["lut_ff"] for g in priced], [g.mean(name) for g in priced], color="grey", s=18)
        for group in priced:
            bram = group.cost["bram36"]
            panel.annotate(group.label.split(",")[0] + (f" +{bram:g} BRAM36" if bram else ""),
                           (group.cost["lut_ff"], group.mean(name)), fontsize=6, xytext=(3, 3),
                           textcoords="offset points")
        best.sort(key=lambda group: group.cost["lut_ff"])
        panel.plot([g.cost["lut_ff"] for g in best], [g.mean(name) for g in best], "o-", color="crimson",
                   label="Pareto front (LUTs + FFs, BRAM, quality)")
        for group in groups:
            if not group.cost:
                panel.axhline(group.mean(name), linestyle="--", linewidth=0.8, color="steelblue")
                panel.annotate(f"{group.label.split(',')[0]} (no hardware)", (0.01, group.mean(name)),
                               xycoords=("axes fraction", "data"), fontsize=6, color="steelblue")
        panel.set(xscale="log", xlabel="LUTs + FFs (Yosys estimate, UltraScale+)", ylabel=title)
        _scale(panel)
        panel.legend(fontsize=7)
    figure.suptitle("Hardware cost against quality")
    figure.tight_layout()
    return figure


def _scale(panel):
    """A logarithmic quality axis where the values span more than two decades (a diverged run's loss)."""
    low, high = panel.dataLim.y0, panel.dataLim.y1
    if low > 0 and high / low > 100:
        panel.set_yscale("log")
