"""Tiny, offline models and data for the trainer's tests: random-weight 2-layer Llama / BERT with a word-level
tokenizer, saved as ordinary Hugging Face folders, and a small synthetic sentiment CSV."""
import csv
import random

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

GOOD = ["great", "wonderful", "moving", "sharp", "funny", "warm"]
BAD = ["dull", "tedious", "clumsy", "flat", "boring", "messy"]
FILLER = ["the", "film", "movie", "is", "was", "a", "plot", "and", "acting", "really", "quite", "story"]
PROMPT = ["Review", ":", "Sentiment", "It", "was", ".", "negative", "positive", "terrible"]
SPECIAL = ["[PAD]", "[UNK]", "[MASK]", "[CLS]", "[SEP]"]


def tokenizer():
    vocab = {word: i for i, word in enumerate(SPECIAL + GOOD + BAD + FILLER + PROMPT)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]",
                                   cls_token="[CLS]", sep_token="[SEP]")


def causal_folder(path, seed=0):
    """A 2-layer Llama with random weights and the word-level tokenizer, saved into `path`."""
    tok = tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def masked_folder(path, seed=0):
    """A 2-layer BERT masked LM with random weights and the word-level tokenizer, saved into `path`."""
    tok = tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                        num_attention_heads=2, max_position_embeddings=128, pad_token_id=tok.pad_token_id)
    BertForMaskedLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def sentiment_csv(path, per_class=30, seed=0):
    """A CSV of short synthetic reviews: label 1 uses a GOOD word, label 0 a BAD one."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        for label, words in ((0, BAD), (1, GOOD)):
            for _ in range(per_class):
                writer.writerow([" ".join(rng.sample(FILLER, 4) + [rng.choice(words)]), label])
    return str(path)
