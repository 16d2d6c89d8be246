"""Parameter-efficient fine-tuning through the `peft` library: LoRA (MeZO's setting: r = 8, alpha = 16 on the
attention query and value projections, peft's default targets for Llama, OPT, BERT, RoBERTa and others) and prefix
tuning (5 virtual tokens, causal LMs). The base weights are frozen, so the optimizer, the perturbation stream and
the checkpoints cover the adapter's weights only."""
import dataclasses

from . import top

KINDS = ("lora", "prefix")
MAX_SIZE = 4096
"""The largest LoRA rank and prefix length pezo builds: far beyond any published setting (r = 8, 5 tokens), and
small enough that a typo does not allocate terabytes."""


def check(kind, r=8, alpha=16, tokens=5):
    """Refuse (ValueError, one line) an unknown adapter or sizes out of range (None: no adapter, nothing to
    check)."""
    if kind is None:
        return
    if kind not in KINDS:
        raise ValueError(f"peft {kind!r} is unknown: allowed {', '.join(KINDS)}")
    bounds = {"lora_r": (r, MAX_SIZE), "lora_alpha": (alpha, None), "prefix_tokens": (tokens, MAX_SIZE)}
    for name, (value, most) in bounds.items():
        if value < 1 or (most is not None and value > most):
            raise ValueError(f"{name}={value} is out of range: allowed " + (f"1..{most}" if most else "1 or more"))


def adapt(lm, kind, r=8, alpha=16, tokens=5, top_blocks=0):
    """`lm` with its model wrapped by a peft adapter of `kind` (None: unchanged), in eval mode. top_blocks > 0
    trains only the top blocks (train/top.py): the adapter goes on those blocks alone, or without one the other
    weights are frozen."""
    if top_blocks:
        top.check(lm.model, top_blocks)
        if kind == "prefix":
            raise ValueError("top_blocks works without prefix tuning (its virtual tokens enter every block): use "
                             "--peft lora or full fine-tuning")
        if kind is None:
            top.freeze_below(lm.model, top_blocks)
            return lm
    if kind is None:
        return lm
    check(kind, r, alpha, tokens)
    from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model
    if kind == "prefix" and lm.masked:
        raise ValueError(f"peft prefix works with causal LMs here; {lm.name!r} is a masked LM: use --peft lora")
    task = None if lm.masked else TaskType.CAUSAL_LM
    if kind == "lora":
        total = len(top.blocks(lm.model)) if top_blocks else 0
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, task_type=task,
                            layers_to_transform=list(range(total - top_blocks, total)) if top_blocks else None)
    else:
        config = PrefixTuningConfig(num_virtual_tokens=tokens, task_type=task)
    model = get_peft_model(lm.model, config)
    model.eval()
    return dataclasses.replace(lm, model=model, prefix=kind == "prefix")
