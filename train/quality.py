"""What a perturbation source offers ZO training on a model, before anything trains (`pezo quality`,
pezo/cli/quality.py).

    pezo quality --preset otf-31x8                      # the default model, full fine-tuning
    pezo quality --perturb pezo-pool --size 1023 --model facebook/opt-1.3b roberta-large --json q.json
    pezo quality --perturb pezo-otf --generators 7 --values 1000000
    pezo quality --perturb gaussian --peft lora

For each model (or --values count): the trainable values d as `pezo train` builds them (from the model's config,
no weights read), the stream's period, the reach K (distinct perturbations over a whole run), the dimension of
their span, the periodic subspace every update lies in, E[u], E[u^2], the largest autocorrelation and its lag, and
the expected ZO-SGD step's bias (golden/quality.py defines each).
"""
import functools

from . import models, perturbations

COLUMNS = ("model", "values", "period_values", "hop", "reach", "span", "periodic_dimension", "mean", "mean_square",
           "worst_correlation", "step_bias")


def analyse(perturb="gaussian", spec=None, values=None, model=models.DEFAULT_MODEL, peft=None, lora_r=8,
            lora_alpha=16, prefix_tokens=5, top_blocks=0):
    """The Quality (golden/quality.py) of source `perturb` (with generator `spec`, a PerturbSpec or None for its
    default) for `values` trainable values, or for those of `model` under `peft` and `top_blocks` when values is
    None."""
    if values is None:
        values = _counted(model, peft, lora_r, lora_alpha, prefix_tokens, top_blocks)
    elif isinstance(values, bool) or not isinstance(values, int) or values < 1:
        raise ValueError(f"--values {values} is out of range: allowed a count of 1 or more trainable values")
    return perturbations.make(perturb, spec=spec).quality(values)


def of_settings(settings):
    """The analysis (a dict) of a run's recorded settings (a Config as a dict, as sweep points hold them)."""
    from pezo.golden import PerturbSpec
    spec = settings.get("spec")
    values = _counted(settings["model"], settings.get("peft"), settings.get("lora_r", 8),
                      settings.get("lora_alpha", 16), settings.get("prefix_tokens", 5), settings.get("top_blocks", 0))
    return analyse(settings["perturb"], spec and PerturbSpec.from_dict(spec), values).to_dict()


@functools.lru_cache(maxsize=None)
def _counted(model, peft, lora_r, lora_alpha, prefix_tokens, top_blocks):
    return models.trainable_values(model, peft, r=lora_r, alpha=lora_alpha, tokens=prefix_tokens,
                                   top_blocks=top_blocks)


def table(rows):
    """A markdown table of analysis rows (None shown as its meaning)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(name, row) for name in COLUMNS) + " |")
    return "\n".join(lines)


def _cell(name, row):
    value = row[name]
    if name == "model":
        adapted = [row["peft"], f"top {row['top_blocks']} blocks" if row["top_blocks"] else None]
        return (value or "--values") + "".join(f" ({part})" for part in adapted if part)
    if value is None:
        return {"reach": "unbounded", "span": "min(steps, d)", "period_values": "none"}.get(name, "n/a")
    if name == "span" and not row["span_exact"]:
        return f"<= {value:,}"
    if name == "worst_correlation" and row["worst_lag"] is not None:
        return f"{value:.3f} (lag {row['worst_lag']})"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
