"""The top-N protocol: ZO fine-tuning of a causal LM's top N blocks with the frozen part computed once.

The blocks below L - N never change, so the hidden states entering block L - N are a function of the example alone:
they are computed once per example (the example by itself, unpadded: what those blocks give it whatever batch it
later lands in), kept in memory for the process (KEPT, keyed by model, N, precision and prompt, so the points of a
sweep share them) and stored in pezo's cache (StoredStates), so that other processes (a sweep's other workers, a
later session) read them instead. Every forward pass of a step then runs only the top N blocks over the kept states,
left-padded into a batch with positions counted from each prompt's first token, as `tasks.Classifier` does, then the
final norm at the answer position only and, of the output layer, only the label words' rows. Only the answer position
of the last block matters: with `answer_row` that block computes keys and values at every position but its query,
attention output and MLP at the answer position only. With `packed` the batch's prompts run end to end as one
sequence, each attending to itself only (transformers' packed-sequence mask, found from positions that restart at
each prompt), so no block multiplies padding (about half of a padded batch of 16 reviews: bench/top_blocks.py).
Kernels that multiply one row instead of many, or another number of rows, may round differently (this machine's CPU
kernels do), so `answer_row` and `packed` are settings of their own, recorded with the run, and equal to the padded
whole block within the loss bound rather than bit for bit.

The loss is the cross-entropy over the label words' logits. That is the classifier's loss exactly: the label
words' log-probabilities are their logits less one log-sum-exp over the vocabulary, and cross-entropy over the
label words subtracts that common term again, so only the label logits matter. The arithmetic differs from the
uncached, full-logit computation only in rounding (the output layer's product over two rows instead of the
vocabulary, no vocabulary-wide softmax, the top blocks over a batch instead of one example, with `answer_row` the
last block's products over the answer rows, with `packed` over the prompts' rows without padding):
tests/test_train_top.py bounds the difference in per-example losses and checks the kept states and the final hidden
states bit for bit.

Trainable values: the top N blocks and the final norm (full fine-tuning), or LoRA adapters on the top N blocks
only. The embeddings, and the output layer tied to them, stay frozen (they feed the cached part). Models: causal
LMs of the Llama family (`model.layers`, `model.norm`, `model.rotary_emb`, `lm_head`: Llama, SmolLM, Mistral,
Qwen2 ...).
"""
import hashlib
import json
import sys

import torch

from pezo import files
from pezo.cache import cache_dir, cache_folder

from .tasks import Classifier


def base(model):
    """The causal LM under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def blocks(model):
    """The transformer blocks of a Llama-family causal LM; a clear error for other models."""
    inner = getattr(base(model), "model", None)
    if not all(hasattr(inner, name) for name in ("layers", "norm", "rotary_emb", "embed_tokens")) or not hasattr(
            base(model), "lm_head"):
        raise ValueError(f"top_blocks needs a Llama-family causal LM (model.layers, model.norm, model.rotary_emb, "
                         f"lm_head); {type(base(model)).__name__} is not one: use top_blocks 0 (the whole model)")
    return inner.layers


def check(model, count):
    """Refuse a block count the model does not have."""
    total = len(blocks(model))
    if not 1 <= count <= total:
        raise ValueError(f"top_blocks={count} is out of range for a model of {total} blocks: allowed 1..{total} "
                         f"(0: the whole model)")


def check_window(model, tokens):
    """Refuse a model whose attention slides over a window shorter than a prompt may be (`tokens`): the blocks run
    here with a full causal mask, as such a model's own forward does only for prompts within its window."""
    config = base(model).config
    window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
    if window is not None and window < tokens:
        raise ValueError(f"top_blocks computes full causal attention, and this model's attention slides over "
                         f"{window} tokens, fewer than a prompt's {tokens}: use top_blocks 0 (the whole model)")


def freeze_below(model, count):
    """Full fine-tuning of the top `count` blocks and the final norm: every other weight stops being trainable."""
    inner = base(model).model
    kept = {id(param) for module in (*inner.layers[len(inner.layers) - count:], inner.norm)
            for param in module.parameters()}
    for param in model.parameters():
        param.requires_grad_(id(param) in kept)


KEPT = {}
"""Kept states per (model name, N, forward precision, token limit, device), then per prompt: one process (a sweep's
points, a test session) computes the frozen part of a prompt once."""
STORES = {}
"""The StoredStates of each KEPT key and thread count: the frozen weights' digest is taken once per process."""
STATES_FOLDER = "top-states"
STATES_FORMAT = 1
"""The stored states' computation: raise it when `TopClassifier.frozen` computes them otherwise, so that states
stored before are not read."""
CHECKED_BLOCKS = ("LlamaDecoderLayer", "MistralDecoderLayer", "Qwen2DecoderLayer")
CHECKED_ATTENTION = ("sdpa", "eager")
"""The blocks and attention implementations `at_answer` computes as their own forward does, and whose packed
prompts (`packed`) transformers' packed-sequence mask keeps apart: those answer_row and packed are checked with."""


class StoredStates:
    """Kept states on disk, in pezo's cache: one file per prompt's token ids under top-states/<digest>/, so that
    every process (a sweep's workers, a later session) computes a prompt's frozen part once. The digest covers what
    the states depend on besides the ids: the frozen weights' bytes (embeddings and the blocks below L - N, rotary
    buffers included), the model's config and attention implementation, N, the forward precision, the device and
    its kind (GPU name, or the CPU's vector extension), torch's version, thread count and float32 matmul precision
    (a kernel may round otherwise with another), and STATES_FORMAT. A file is written whole (pezo.files.write_file),
    so workers share the folder; one that cannot be read, or holds states of another shape, is computed again; a
    cache that cannot be written is warned of once and left alone. Read back, states are bit for bit those
    computed."""

    def __init__(self, classifier):
        model, count, device = classifier.model, classifier.count, classifier.device
        digest = hashlib.sha256()
        for module in (model.embed_tokens, model.rotary_emb, *model.layers[:len(model.layers) - count]):
            for tensor in (*module.parameters(), *module.buffers()):
                digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
        kind = torch.cuda.get_device_name(device) if device.type == "cuda" else torch.backends.cpu.get_cpu_capability()
        config = base(classifier.lm.model).config
        digest.update(json.dumps([config.to_json_string(), config._attn_implementation, count, str(classifier.forward),
                                  str(device), kind, torch.__version__, torch.get_num_threads(),
                                  torch.get_float32_matmul_precision(), STATES_FORMAT]).encode())
        self.folder = cache_dir() / STATES_FOLDER / digest.hexdigest()[:16]
        self.device, self.hidden, self.writable = device, config.hidden_size, None      # None: not tried yet

    def path(self, ids):
        return self.folder / f"{hashlib.sha256(ids.cpu().numpy().tobytes()).hexdigest()[:32]}.safetensors"

    def read(self, ids):
        """The stored states of `ids` on the classifier's device, or None where none can be read."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            states = load_file(self.path(ids), device=str(self.device))["states"]
        except (OSError, SafetensorError, KeyError):
            return None
        return states if states.shape == (ids.shape[1], self.hidden) else None

    def write(self, ids, states):
        """Store the states of `ids`; where the cache cannot be written, warn once and go on without it."""
        from safetensors.torch import save
        if self.writable is False:
            return
        try:
            if self.writable is None:
                cache_folder(STATES_FOLDER)             # recorded as pezo's own in the cache's marker
                self.writable = True
            files.write_file(self.path(ids), save({"states": states.detach().cpu().contiguous()}))
        except OSError as error:
            self.writable = False
            print(f"warning: the top-N states cannot be stored in {self.folder} ({error}): each process computes "
                  f"them again", file=sys.stderr)


class TopClassifier(Classifier):
    """A Classifier (loss, losses, scores, predict, accuracy) whose forward passes run the top `count` blocks
    only, over the states entering them, kept per prompt; with `answer_row`, the last of them at the answer
    position only; with `packed`, over the batch's prompts end to end instead of left-padded."""

    def __init__(self, lm, task, count, forward="fp32", answer_row=False, packed=False):
        super().__init__(lm, task, forward=forward)
        check(lm.model, count)                  # refuses what is not a Llama-family causal LM
        check_window(lm.model, self.max_tokens)
        if lm.prefix:
            raise ValueError("top_blocks works without prefix tuning (its virtual tokens enter every block)")
        if answer_row or packed:
            check_blocks(lm.model, "answer_row" if answer_row else "packed")
        self.key = (lm.name, count, str(forward), self.max_tokens, str(self.device))
        self.count, self.answer_row, self.packed, self.kept = count, answer_row, packed, KEPT.setdefault(self.key, {})

    @property
    def model(self):
        return base(self.lm.model).model

    def states(self, prompt):
        """The hidden states [tokens, hidden] entering block L - count for one prompt: kept for the process, and
        stored in pezo's cache so that other processes read them rather than compute them (StoredStates)."""
        if prompt not in self.kept:
            tokenizer = self.lm.tokenizer
            tokenizer.truncation_side = "left"
            ids = tokenizer([prompt], return_tensors="pt", truncation=True,
                            max_length=self.max_tokens).input_ids.to(self.device)
            states = self.store.read(ids)
            if states is None:
                states = self.frozen(ids)
                self.store.write(ids, states)
            self.kept[prompt] = states
        return self.kept[prompt]

    @property
    def store(self):
        key = (*self.key, torch.get_num_threads())
        if key not in STORES:
            STORES[key] = StoredStates(self)
        return STORES[key]

    @torch.no_grad()
    def frozen(self, ids):
        """The states [tokens, hidden] the blocks below L - count give token ids [1, tokens], alone in a batch."""
        with self._autocast():
            layers = self.model.layers[:len(self.model.layers) - self.count]
            mask = torch.ones_like(ids)
            return self._run(layers, self.model.embed_tokens(ids), mask, mask.cumsum(1) - 1)[0]

    @property
    def device(self):
        return next(self.lm.model.parameters()).device

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.forward, enabled=self.forward is not None)

    def _run(self, layers, states, mask, positions, rows=None):
        """`layers` over `states` [batch, tokens, hidden] as the model's own forward runs its blocks: a causal mask
        from the left-padding `mask`, or with mask None from `positions` (rotary positions, counted from each
        prompt's first token), so that packed prompts each attend to themselves; with `rows` (indices or a slice
        along the tokens), the last layer gives those rows only ([batch, rows, hidden], `at_answer`)."""
        from transformers.masking_utils import create_causal_mask
        causal = create_causal_mask(config=base(self.lm.model).config, inputs_embeds=states, attention_mask=mask,
                                    past_key_values=None, position_ids=positions)
        rotary = self.model.rotary_emb(states, position_ids=positions)
        for layer in layers if rows is None else layers[:-1]:
            states = layer(states, attention_mask=causal, position_embeddings=rotary, position_ids=positions,
                           past_key_values=None, use_cache=False)
        return states if rows is None else at_answer(layers[-1], states, causal, rotary, rows)

    @torch.no_grad()
    def answer_states(self, texts):
        """The final norm's output [batch, hidden] at each prompt's answer position, from the top blocks."""
        kept = [self.states(prompt) for prompt in self.prompts(texts)]
        batch, mask, positions, answers = (packed if self.packed else padded)(kept)
        with self._autocast():
            states = self._run(self.model.layers[len(self.model.layers) - self.count:], batch, mask, positions,
                               rows=answers if self.answer_row else None)
            return self.model.norm(states if self.answer_row else states[:, answers]).reshape(len(kept), -1)

    @torch.no_grad()
    def label_logits(self, texts):
        """Logits [batch, classes] of the label words after each prompt: their rows of the output layer only."""
        states = self.answer_states(texts)
        head, ids = base(self.lm.model).lm_head, self.label_ids.to(states.device)
        with self._autocast():
            logits = torch.nn.functional.linear(states, head.weight[ids],
                                                None if head.bias is None else head.bias[ids])
        return logits.float()

    def scores(self, texts):
        """Log-probabilities [batch, classes] over the label words: the classifier's cross-entropy and argmax."""
        return torch.log_softmax(self.label_logits(texts), dim=-1)


def padded(kept):
    """(states [batch, longest, hidden], left-padding mask, positions, answer rows) of prompts' kept states; the
    answer rows are the last position as a slice, so that products read a view of it, not a copy (a copy may take
    another kernel: a linear layer with a bias fuses its addition then, and rounds otherwise)."""
    longest = max(len(states) for states in kept)
    batch = kept[0].new_zeros(len(kept), longest, kept[0].shape[-1])
    mask = torch.zeros(len(kept), longest, dtype=torch.int64, device=batch.device)
    for row, states in enumerate(kept):
        batch[row, longest - len(states):] = states
        mask[row, longest - len(states):] = 1
    return batch, mask, (mask.cumsum(1) - 1).clamp(min=0), slice(longest - 1, longest)


def packed(kept):
    """(states [1, total, hidden], no mask, positions restarting at each prompt, answer rows) of prompts' kept
    states end to end."""
    device = kept[0].device
    lengths = torch.tensor([len(states) for states in kept], device=device)
    ends = lengths.cumsum(0)
    positions = torch.arange(int(ends[-1]), device=device) - (ends - lengths).repeat_interleave(lengths)
    return torch.cat(kept)[None], None, positions[None], ends - 1


def check_blocks(model, setting):
    """Refuse answer_row or packed (`setting`) for a model whose blocks and attention they were not checked with
    (CHECKED_BLOCKS, CHECKED_ATTENTION)."""
    block, attention = type(blocks(model)[-1]).__name__, base(model).config._attn_implementation
    if block not in CHECKED_BLOCKS or attention not in CHECKED_ATTENTION:
        raise ValueError(f"{setting} computes {', '.join(CHECKED_BLOCKS)} blocks with "
                         f"{' or '.join(CHECKED_ATTENTION)} attention, and this model has {block} with {attention} "
                         f"attention: leave {setting} out")


def at_answer(layer, states, causal, rotary, rows):
    """A Llama block's output [batch, rows, hidden] at the positions `rows` (indices or a slice) of `states`
    [batch, tokens, hidden]: keys and values from every position, but the query, attention output, residual and MLP
    of those rows only (for a padded batch's last row about a sixteenth of the block's arithmetic for the default
    model's proportions). `causal` and `rotary` are the block's mask and rotary (cos, sin) over all positions, as
    `TopClassifier._run` forms them."""
    from transformers.models.llama.modeling_llama import ALL_ATTENTION_FUNCTIONS, eager_attention_forward, rotate_half
    attention = layer.self_attn
    normed = layer.input_layernorm(states)
    last = normed[:, rows]
    heads = (*normed.shape[:-1], -1, attention.head_dim)
    query = attention.q_proj(last).view(*last.shape[:-1], -1, attention.head_dim).transpose(1, 2)
    key = attention.k_proj(normed).view(heads).transpose(1, 2)
    value = attention.v_proj(normed).view(heads).transpose(1, 2)
    cos, sin = (half.unsqueeze(1) for half in rotary)                  # as the block's own rotation, per element
    query = query * cos[:, :, rows] + rotate_half(query) * sin[:, :, rows]
    key = key * cos + rotate_half(key) * sin
    attend = ALL_ATTENTION_FUNCTIONS.get_interface(attention.config._attn_implementation, eager_attention_forward)
    output, _ = attend(attention, query, key, value, None if causal is None else causal[:, :, rows], dropout=0.0,
                       scaling=attention.scaling)
    states = states[:, rows] + attention.o_proj(output.reshape(*last.shape[:-1], -1))
    return states + layer.mlp(layer.post_attention_layernorm(states))
