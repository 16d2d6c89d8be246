"""What a perturbation source offers ZO training on a model, before anything trains (`pezo quality`,
pezo/cli/quality.py).

    pezo quality --preset otf-31x8                      # the default model, full fine-tuning
    pezo quality --perturb pezo-pool --size 1023 --model facebook/opt-1.3b roberta-large --json q.json
    pezo quality --perturb pezo-otf --generators 7 --values 1000000
    pezo quality --perturb gaussian --peft lora

For each model (or --values count): the trainable values d as `pezo train` builds them (from the model's config,
no weights read), the stream's period, the reach K (distinct perturbations over a whole run), the dimension of
their span, the periodic subspace every update lies in, the weight matrix whose rank the stream confines most, E[u],
E[u^2], the largest autocorrelation and its lag, and the expected ZO-SGD step's bias (golden/quality.py defines
each).
"""
import functools
import math

from pezo.golden.quality import matrix_rank

from . import models, perturbations

COLUMNS = ("model", "values", "period_values", "hop", "reach", "span", "periodic_dimension", "matrix_rank", "mean",
           "mean_square", "worst_correlation", "step_bias")
MATRIX = ("matrix", "matrix_rank", "matrix_full_rank")


def analyse(perturb="gaussian", spec=None, values=None, model=models.DEFAULT_MODEL, peft=None, lora_r=8,
            lora_alpha=16, prefix_tokens=5, top_blocks=0):
    """The analysis (a dict: golden/quality.py's Quality and the MATRIX fields) of source `perturb` (with generator
    `spec`, a PerturbSpec or None for its default) for `values` trainable values (no matrices), or for those of
    `model` under `peft` and `top_blocks` when values is None."""
    source = perturbations.make(perturb, spec=spec)
    if values is None:
        return of_source(source, _shapes(model, peft, lora_r, lora_alpha, prefix_tokens, top_blocks))
    if isinstance(values, bool) or not isinstance(values, int) or values < 1:
        raise ValueError(f"--values {values} is out of range: allowed a count of 1 or more trainable values")
    return {**source.quality(values).to_dict(), **dict.fromkeys(MATRIX)}


def of_source(source, shapes):
    """The analysis (a dict) of a perturbation source (train/perturbations.py) for trainable tensors of `shapes`
    ((name, shape) pairs, in the order the perturbation fills them)."""
    found = source.quality(sum(math.prod(shape) for _, shape in shapes)).to_dict()
    return {**found, **weakest_matrix(found["period_values"], shapes)}


def of_settings(settings):
    """The analysis (a dict) of a run's recorded settings (a Config as a dict, as sweep points hold them)."""
    from pezo.golden import PerturbSpec
    spec = settings.get("spec")
    return analyse(settings["perturb"], spec and PerturbSpec.from_dict(spec), **_model(settings))


def matrices_of_settings(settings, period_values):
    """The MATRIX fields of a run's settings for a stream of `period_values` (None: independent values)."""
    return weakest_matrix(period_values, _shapes(**_model(settings)))


def weakest_matrix(period_values, shapes):
    """The MATRIX fields: the trainable matrix (a tensor of two or more dimensions, rows along its last one) of
    `shapes` ((name, shape) pairs) whose rank golden/quality.py's matrix_rank confines most against its full rank
    min(rows, cols), the first where several tie; all None where no tensor is a matrix. Under LoRA the matrices are
    the adapters' A and B, not the change B A they make."""
    found = dict.fromkeys(MATRIX)
    for name, shape in shapes:
        if len(shape) < 2:
            continue
        rows, cols = math.prod(shape[:-1]), shape[-1]
        rank, full = matrix_rank(period_values, rows, cols), min(rows, cols)
        if found["matrix"] is None or rank * found["matrix_full_rank"] < found["matrix_rank"] * full:
            found = dict(zip(MATRIX, (name, rank, full)))
    return found


def _model(settings):
    return {"model": settings["model"], "peft": settings.get("peft"), "lora_r": settings.get("lora_r", 8),
            "lora_alpha": settings.get("lora_alpha", 16), "prefix_tokens": settings.get("prefix_tokens", 5),
            "top_blocks": settings.get("top_blocks", 0)}


@functools.lru_cache(maxsize=None)
def _shapes(model, peft, lora_r, lora_alpha, prefix_tokens, top_blocks):
    return tuple(models.trainable_shapes(model, peft, r=lora_r, alpha=lora_alpha, tokens=prefix_tokens,
                                         top_blocks=top_blocks))


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
    if name == "matrix_rank":
        return matrix_cell(row)
    if value is None:
        return {"reach": "unbounded", "span": "min(steps, d)", "period_values": "none"}.get(name, "n/a")
    if name == "span" and not row["span_exact"]:
        return f"<= {value:,}"
    if name == "worst_correlation" and row["worst_lag"] is not None:
        return f"{value:.3f} (lag {row['worst_lag']})"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def matrix_cell(found):
    """The MATRIX fields of `found` as 'rank of full (matrix)', the matrix named from its block on; 'full' where
    no matrix is confined, 'n/a' where there is none."""
    if found["matrix"] is None:
        return "n/a"
    if found["matrix_rank"] == found["matrix_full_rank"]:
        return "full"
    name = found["matrix"].removesuffix(".weight")
    name = name[name.find("layers."):] if "layers." in name else name
    return f"{found['matrix_rank']:,} of {found['matrix_full_rank']:,} ({name})"
