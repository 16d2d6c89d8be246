"""Prompt-based classification: a template turns a text into a prompt, each class has a label word.

A causal LM scores the label words as the next token after the prompt (left-padded batches, positions counted
from each prompt's first token, logits of the last position only; right-padded, at each prompt's last token, when
prefix-tuned); a masked LM scores them at the template's mask.
The loss is the cross-entropy over the label words' log-probabilities (MeZO's classification loss; every label
word is one token, so its mean log-prob is that token's). The prediction is the best-scoring label word.
"""
import dataclasses

import torch

MASK = "{mask}"


@dataclasses.dataclass(frozen=True)
class Task:
    """Templates are format strings with {text}: one for causal LMs, one with {mask} for masked LMs; label_words:
    one per class, in order."""
    name: str
    causal_template: str
    masked_template: str
    label_words: tuple


TASKS = {
    "rt": Task("rt", "Review: {text}\nSentiment:", "{text} It was {mask}.", (" negative", " positive")),
}


def get(name):
    if name not in TASKS:
        raise ValueError(f"task {name!r} is unknown: allowed {', '.join(sorted(TASKS))}")
    return TASKS[name]


def custom(template, label_words):
    """A user's task: a template with {text} (and {mask}, used with masked LMs) and its label words."""
    try:
        template.format(text="", mask="")
    except (KeyError, IndexError, ValueError):
        valid = False
    else:
        valid = "{text}" in template
    if not valid or len(label_words or ()) < 2:
        raise ValueError(f"template {template!r} with label words {label_words!r}: allowed a template with a "
                         f"{{text}} placeholder (and {{mask}}, no other fields) and one label word per class")
    return Task("custom", template, template, tuple(label_words))


FORWARDS = {"fp32": None, "bf16": torch.bfloat16}
"""The precisions a forward pass can run in: fp32, or bf16 autocast (the weights stay fp32; matrix products run in
bf16, and torch keeps reductions such as softmax in fp32)."""


class Classifier:
    """A task bound to a language model: tokenised batches, loss and predictions; `forward` names the forward
    pass's precision (FORWARDS)."""

    def __init__(self, lm, task, max_tokens=256, forward="fp32"):
        if forward not in FORWARDS:
            raise ValueError(f"forward {forward!r} is unknown: allowed {', '.join(FORWARDS)}")
        self.lm, self.task, self.max_tokens, self.forward = lm, task, max_tokens, FORWARDS[forward]
        self.template = task.masked_template if lm.masked else task.causal_template
        if lm.masked and MASK not in self.template:
            raise ValueError(f"template {self.template!r} has no {MASK} for the masked LM {lm.name!r}")
        self.label_ids = torch.tensor([self._single_token(word) for word in task.label_words])

    def _single_token(self, word):
        ids = self.lm.tokenizer(word, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise ValueError(f"label word {word!r} is {len(ids)} tokens for model {self.lm.name!r}: allowed are "
                             f"words that are one token")
        return ids[0]

    def prompts(self, texts):
        mask = self.lm.tokenizer.mask_token if self.lm.masked else ""
        return [self.template.format(text=text, mask=mask) for text in texts]

    @torch.no_grad()
    def scores(self, texts):
        """Log-probabilities [batch, classes] of the label words after (or at the mask of) each prompt."""
        tokenizer = self.lm.tokenizer
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right" if self.lm.masked or self.lm.prefix else "left"
        tokenizer.truncation_side = "left"
        device = next(self.lm.model.parameters()).device
        batch = tokenizer(self.prompts(texts), return_tensors="pt", padding=True, truncation=True,
                          max_length=self.max_tokens).to(device)
        with torch.autocast(device.type, dtype=self.forward, enabled=self.forward is not None):
            logits = self._logits(batch, len(texts))
        return torch.log_softmax(logits.float(), dim=-1)[:, self.label_ids]

    def _logits(self, batch, count):
        """The logits of the label position of each prompt of a tokenised batch."""
        tokenizer = self.lm.tokenizer
        if self.lm.masked:
            logits = self.lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            rows, positions = (batch.input_ids == tokenizer.mask_token_id).nonzero(as_tuple=True)
            logits = logits[rows, positions]
        elif self.lm.prefix:
            logits = self.lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            logits = logits[torch.arange(count), batch.attention_mask.sum(1) - 1]
        else:
            positions = (batch.attention_mask.cumsum(1) - 1).clamp(min=0)
            logits = self.lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                   position_ids=positions, logits_to_keep=1).logits[:, -1]
        return logits

    def loss(self, batch):
        """Cross-entropy over the label words for a batch of (texts, labels)."""
        texts, labels = batch
        scores = self.scores(texts)
        return torch.nn.functional.cross_entropy(scores, torch.as_tensor(labels, device=scores.device))

    def losses(self, batch):
        """Per-example cross-entropy over the label words for a batch of (texts, labels)."""
        texts, labels = batch
        scores = self.scores(texts)
        return torch.nn.functional.cross_entropy(scores, torch.as_tensor(labels, device=scores.device),
                                                 reduction="none")

    def predict(self, texts, batch_size=32):
        """Predicted class of each text, in batches of similar length (less padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        predictions = torch.empty(len(texts), dtype=torch.int64)
        for begin in range(0, len(order), batch_size):
            chunk = order[begin:begin + batch_size]
            predictions[chunk] = self.scores([texts[i] for i in chunk]).argmax(1).cpu()
        return predictions
