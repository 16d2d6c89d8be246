"""The top-N protocol (train/top.py): kept states and answer states equal the uncached model's bit for bit, the
answer row and packed prompts equal the padded whole block's answer states up to rounding, the per-example losses
equal the full-logit classifier's within a stated bound, for several N and with LoRA (and with the answer row,
packed or not); only the top blocks train; runs resume bit-identically; bad settings get one line."""
import dataclasses
import json

import pytest
import safetensors.torch
import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

import train_tiny
from pezo.cli import main
from pezo.train import adapters, data, models, tasks, top

BLOCKS = 4
LOSS_BOUND = 1e-5
"""Per-example losses may differ from the full-logit classifier's by rounding only: the output layer's two rows
instead of the vocabulary's, no vocabulary-wide log-sum-exp, the top blocks over another batch. On the default
model bench/top_blocks.py measured at most 2.5e-6 padded, 3.3e-6 packed (docs/results.md)."""
STATE_BOUND = 1e-6
"""The answer row's and packed prompts' states may differ from the padded whole block's by rounding only (a product
over another number of rows rounds otherwise on some kernels): relative to the largest state, a few float32 ulps."""
FAST = [(False, False), (True, False), (False, True), (True, True)]
"""(answer_row, packed) of every way TopClassifier computes the top blocks."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A 4-block Llama with random weights (seed 1), the tiny word-level tokenizer, and its data."""
    path = tmp_path_factory.mktemp("top")
    tokenizer = train_tiny.tokenizer()
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=BLOCKS,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(path / "model")
    tokenizer.save_pretrained(path / "model")
    return {"model": str(path / "model"), "data": train_tiny.sentiment_csv(path / "reviews.csv")}


def fresh_process(monkeypatch, cache):
    """What a new process sees: no kept states in memory, pezo's cache at `cache`."""
    monkeypatch.setenv("PEZO_CACHE", str(cache))
    monkeypatch.setattr(top, "KEPT", {})
    monkeypatch.setattr(top, "STORES", {})


@pytest.fixture(autouse=True)
def new_process(tmp_path, monkeypatch):
    """Every test starts as a new process with a cache of its own: it computes every state it checks."""
    fresh_process(monkeypatch, tmp_path / "cache")


def counted(monkeypatch):
    """Count the calls of top.at_answer (the answer-row path), which still runs."""
    calls = []
    original = top.at_answer
    monkeypatch.setattr(top, "at_answer", lambda *args: calls.append(1) or original(*args))
    return calls


def language_model(folder, peft=None, blocks=0):
    lm = adapters.adapt(models.load(folder["model"]), peft, top_blocks=blocks)
    if peft:                                     # LoRA's B starts at zero: give the adapters weights that matter
        generator = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for name, param in lm.model.named_parameters():
                if "lora_" in name:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    return lm


def examples(folder, count=12):
    """`count` reviews cut to 5, 4 and 3 words in turn (each keeps its sentiment word last): a padded batch."""
    found = data.read_file(folder["data"], 2)
    return [" ".join(text.split()[index % 3:]) for index, text in enumerate(found.texts[:count])], found.labels[:count]


@pytest.mark.parametrize("peft", [None, "lora"])
@pytest.mark.parametrize("blocks", range(1, BLOCKS + 1))
def test_kept_and_answer_states_are_the_models_bit_for_bit(folder, blocks, peft):
    """One prompt alone is the model's computation, padded or packed (a batch of one has nothing to pack)."""
    lm = language_model(folder, peft, blocks)
    for text, packed in zip(examples(folder, 4)[0], [False, True] * 2):
        classifier = top.TopClassifier(lm, tasks.get("rt"), blocks, packed=packed)
        prompt = classifier.prompts([text])[0]
        ids = lm.tokenizer([prompt], return_tensors="pt").input_ids
        with torch.no_grad():
            hidden = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
        assert torch.equal(classifier.states(prompt), hidden[BLOCKS - blocks][0])
        assert torch.equal(classifier.answer_states([text])[0], hidden[-1][0, -1])


def test_kept_states_are_stored_and_another_process_reads_them_bit_for_bit(folder, tmp_path, monkeypatch):
    fresh_process(monkeypatch, tmp_path / "cache")
    lm = language_model(folder, "lora", 2)
    prompts = top.TopClassifier(lm, tasks.get("rt"), 2).prompts(examples(folder)[0])
    computed = {prompt: top.TopClassifier(lm, tasks.get("rt"), 2).states(prompt) for prompt in prompts}
    stored = sorted((tmp_path / "cache" / "top-states").glob("*/*.safetensors"))
    assert len(stored) == len(prompts) and len({path.parent for path in stored}) == 1
    fresh_process(monkeypatch, tmp_path / "cache")
    monkeypatch.setattr(top.TopClassifier, "frozen", lambda self, ids: pytest.fail("computed, not read"))
    reader = top.TopClassifier(language_model(folder, None, 2), tasks.get("rt"), 2)
    assert all(torch.equal(reader.states(prompt), states) for prompt, states in computed.items())
    stored[0].write_bytes(b"cut short")                                 # unreadable: computed again, and replaced
    monkeypatch.undo()
    fresh_process(monkeypatch, tmp_path / "cache")
    again = top.TopClassifier(lm, tasks.get("rt"), 2)
    assert all(torch.equal(again.states(prompt), states) for prompt, states in computed.items())
    assert stored[0].read_bytes() != b"cut short"
    prompt = prompts[1]
    target = next(path for path in stored if torch.equal(safetensors.torch.load_file(path)["states"],
                                                         computed[prompt]))
    target.write_bytes(safetensors.torch.save({"states": computed[prompt][1:]}))   # readable, of another shape
    fresh_process(monkeypatch, tmp_path / "cache")
    assert torch.equal(top.TopClassifier(lm, tasks.get("rt"), 2).states(prompt), computed[prompt])
    assert torch.equal(safetensors.torch.load_file(target)["states"], computed[prompt])      # and replaced


def test_a_cache_that_cannot_be_written_is_warned_of_once(folder, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("not a folder")
    fresh_process(monkeypatch, tmp_path / "file" / "cache")
    classifier = top.TopClassifier(language_model(folder, None, 2), tasks.get("rt"), 2)
    capsys.readouterr()
    assert classifier.answer_states(examples(folder, 3)[0]).shape == (3, 32)      # three prompts' states computed
    warning = capsys.readouterr().err
    assert warning.count("warning: the top-N states cannot be stored in") == 1 and warning.count("\n") == 1


def test_stored_states_of_other_blocks_or_weights_are_not_shared(folder, tmp_path, monkeypatch):
    fresh_process(monkeypatch, tmp_path / "cache")
    lm = language_model(folder, None, 1)
    prompt = top.TopClassifier(lm, tasks.get("rt"), 2).prompts(examples(folder, 1)[0])[0]
    before = top.TopClassifier(lm, tasks.get("rt"), 2).states(prompt)
    folders = {top.TopClassifier(lm, tasks.get("rt"), count).store.folder for count in (1, 2)}
    with torch.no_grad():
        lm.model.model.layers[0].mlp.up_proj.weight[0, 0] += 1.0          # a frozen weight of both
    fresh_process(monkeypatch, tmp_path / "cache")
    changed = top.TopClassifier(lm, tasks.get("rt"), 2)
    assert len(folders | {changed.store.folder}) == 3 and not torch.equal(changed.states(prompt), before)


@pytest.mark.parametrize("answer_row, packed", FAST[1:])
@pytest.mark.parametrize("peft", [None, "lora"])
@pytest.mark.parametrize("blocks", range(1, BLOCKS + 1))
def test_the_answer_row_and_packing_are_the_padded_whole_block_up_to_rounding(folder, blocks, peft, answer_row,
                                                                              packed, monkeypatch):
    lm = language_model(folder, peft, blocks)
    whole = top.TopClassifier(lm, tasks.get("rt"), blocks)
    fast = top.TopClassifier(lm, tasks.get("rt"), blocks, answer_row=answer_row, packed=packed)
    calls = counted(monkeypatch)
    for texts in (examples(folder)[0], examples(folder)[0][:1]):      # a padded batch, and one prompt (no padding)
        expected, found = whole.answer_states(texts), fast.answer_states(texts)
        assert found.shape == expected.shape == (len(texts), 32)
        assert (found - expected).abs().max().item() <= STATE_BOUND * expected.abs().max().item()
    assert len(calls) == 2 * answer_row


@pytest.mark.parametrize("answer_row", [False, True])
@pytest.mark.parametrize("attention", top.CHECKED_ATTENTION)
def test_packed_prompts_attend_to_themselves_only(folder, attention, answer_row):
    """Under each attention implementation packing is checked with, with and without the answer row, each packed
    prompt's answer states are those it has alone in a batch (up to rounding), whatever precedes it; a prompt
    changed leaves the others' as they were."""
    lm = language_model(folder, None, 2)
    lm.model.config._attn_implementation = attention
    packed = top.TopClassifier(lm, tasks.get("rt"), 2, answer_row=answer_row, packed=True)
    texts = examples(folder)[0]
    together = packed.answer_states(texts)
    alone = torch.cat([packed.answer_states([text]) for text in texts])
    assert (together - alone).abs().max().item() <= STATE_BOUND * alone.abs().max().item()
    changed = packed.answer_states(["bad " + texts[0], *texts[1:]])
    assert not torch.equal(changed[0], together[0])
    assert (changed[1:] - together[1:]).abs().max().item() <= STATE_BOUND * alone.abs().max().item()


@pytest.mark.parametrize("answer_row, packed", FAST[1:])
def test_prompts_of_one_token_pack_and_pad_alike(folder, monkeypatch, answer_row, packed):
    """Kept states of 1, 5, 1, 1 and 3 tokens (prompts of one token side by side, where positions restart at once):
    every way of computing the top blocks gives each the answer states it has alone, up to rounding."""
    lm = language_model(folder, None, 2)
    whole = top.TopClassifier(lm, tasks.get("rt"), 2)
    fast = top.TopClassifier(lm, tasks.get("rt"), 2, answer_row=answer_row, packed=packed)
    generator = torch.Generator().manual_seed(3)
    kept = {f"prompt {index}": torch.randn(length, 32, generator=generator)
            for index, length in enumerate([1, 5, 1, 1, 3])}
    for classifier in (whole, fast):
        monkeypatch.setattr(classifier, "prompts", lambda texts: texts)
        monkeypatch.setattr(classifier, "states", kept.get)
    alone = torch.cat([whole.answer_states([prompt]) for prompt in kept])
    found = fast.answer_states(list(kept))
    assert (found - alone).abs().max().item() <= STATE_BOUND * alone.abs().max().item()


def test_a_window_shorter_than_a_prompt_is_refused(folder):
    """The blocks run with full causal attention: a model whose attention slides over fewer tokens than a prompt
    may have would compute otherwise, so it is refused; one whose window covers the prompts is not."""
    from transformers import MistralConfig, MistralForCausalLM
    lm = language_model(folder, None, 2)
    for window, refused in ((8, True), (4096, False)):
        config = MistralConfig(vocab_size=lm.model.config.vocab_size, hidden_size=32, intermediate_size=64,
                               num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               sliding_window=window)
        mistral = dataclasses.replace(lm, model=MistralForCausalLM(config))
        if refused:
            with pytest.raises(ValueError, match="slides over 8 tokens, fewer than a prompt's 256"):
                top.TopClassifier(mistral, tasks.get("rt"), 1)
        else:
            top.TopClassifier(mistral, tasks.get("rt"), 1, answer_row=True, packed=True)


@pytest.mark.parametrize("answer_row, packed", FAST)
@pytest.mark.parametrize("peft", [None, "lora"])
@pytest.mark.parametrize("blocks", range(1, BLOCKS + 1))
def test_losses_equal_the_full_logit_classifier_within_the_bound(folder, blocks, peft, answer_row, packed,
                                                                 monkeypatch):
    lm = language_model(folder, peft, blocks)
    full = tasks.Classifier(lm, tasks.get("rt"))
    fast = top.TopClassifier(lm, tasks.get("rt"), blocks, answer_row=answer_row, packed=packed)
    calls = counted(monkeypatch)
    batch = examples(folder)
    assert len({len(text.split()) for text in batch[0]}) == 3         # a padded batch (one word, one token)
    difference = (full.losses(batch) - fast.losses(batch)).abs().max().item()
    assert difference <= LOSS_BOUND
    assert torch.equal(full.predict(batch[0]), fast.predict(batch[0]))
    assert bool(calls) == answer_row


@pytest.mark.parametrize("peft, trained", [(None, {"model.norm.weight"}), ("lora", set())])
def test_only_the_top_blocks_train(folder, peft, trained):
    lm = language_model(folder, peft, 2)
    names = {name for name, param in lm.model.named_parameters() if param.requires_grad}
    layers = {int(name.split("layers.")[1].split(".")[0]) for name in names if "layers." in name}
    assert layers == {BLOCKS - 2, BLOCKS - 1} and trained <= names
    assert all("lora_" in name for name in names) if peft else not any("embed" in name for name in names)
    assert models.trainable_shapes(folder["model"], peft, top_blocks=2) == [
        (name, tuple(param.shape)) for name, param in lm.model.named_parameters() if param.requires_grad]
    assert models.trainable_values(folder["model"], peft, top_blocks=2) == sum(
        param.numel() for param in lm.model.parameters() if param.requires_grad)


def train(folder, out, *options):
    return main(["train", "--model", folder["model"], "--data", folder["data"], "--k", "4", "--test-size", "20",
                 "--batch-size", "4", "--eval-every", "2", "--lr", "0.05", "--eps", "0.01", "--no-progress",
                 "--out", str(out), *options])


@pytest.mark.parametrize("fast", [[], ["--answer-row"], ["--answer-row", "--packed"]])
def test_a_top_blocks_run_resumes_bit_identically_and_keeps_only_its_blocks(folder, tmp_path, monkeypatch, fast):
    options = ["--top-blocks", "2", "--perturb", "pezo-otf", "--seed", "3", *fast]
    calls = counted(monkeypatch)
    assert train(folder, tmp_path / "whole", *options, "--steps", "6") == 0
    assert train(folder, tmp_path / "split", *options, "--steps", "2") == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "6", "--no-progress"]) == 0
    whole, split = (load_file(tmp_path / run / "checkpoint" / "trainable.safetensors") for run in ("whole", "split"))
    assert whole.keys() == split.keys() and all(torch.equal(whole[key], split[key]) for key in whole)
    assert {key.split(".")[2] for key in whole if "layers." in key} == {"2", "3"}
    losses = [[r["loss"] for r in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
               if "loss" in r] for run in ("whole", "split")]
    assert losses[0] == losses[1] and len(losses[0]) == 6
    config = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert config["top_blocks"] == 2 and config["answer_row"] == bool(fast) == bool(calls)
    assert config["packed"] == ("--packed" in fast)
    assert config["quality"]["values"] == sum(t.numel() for t in whole.values())


@pytest.mark.parametrize("options, named", [
    (["--top-blocks", "5"], "top_blocks=5"),
    (["--top-blocks", "-1"], "top_blocks=-1"),
    (["--top-blocks", "1", "--peft", "prefix"], "prefix"),
    (["--answer-row"], "answer_row"),
    (["--packed"], "packed"),
])
def test_bad_top_blocks_are_one_line(folder, tmp_path, capsys, options, named):
    assert train(folder, tmp_path / "run", *options, "--steps", "1") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


def test_the_answer_row_refuses_blocks_it_does_not_compute(folder, tmp_path):
    """A Qwen3 block (query and key norms that at_answer does not apply) passes the Llama-family check but not
    answer_row's; neither does a Llama block under an attention implementation at_answer was not checked with."""
    from transformers import Qwen3Config, Qwen3ForCausalLM
    lm = language_model(folder, None, 2)
    config = Qwen3Config(vocab_size=lm.model.config.vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8)
    qwen = dataclasses.replace(lm, model=Qwen3ForCausalLM(config))
    top.TopClassifier(qwen, tasks.get("rt"), 1)
    with pytest.raises(ValueError, match="this model has Qwen3DecoderLayer with sdpa attention: leave answer_row out"):
        top.TopClassifier(qwen, tasks.get("rt"), 1, answer_row=True)
    with pytest.raises(ValueError, match="Qwen3DecoderLayer with sdpa attention: leave packed out"):
        top.TopClassifier(qwen, tasks.get("rt"), 1, packed=True)
    lm.model.config._attn_implementation = "flex_attention"
    with pytest.raises(ValueError, match="LlamaDecoderLayer with flex_attention attention"):
        top.TopClassifier(lm, tasks.get("rt"), 2, answer_row=True)


def test_a_masked_lm_is_refused(tmp_path, capsys):
    model = train_tiny.masked_folder(tmp_path / "masked")
    csv = train_tiny.sentiment_csv(tmp_path / "reviews.csv")
    assert main(["train", "--model", model, "--data", csv, "--k", "4", "--test-size", "20", "--top-blocks", "1", "--out", str(tmp_path / "run"),
                 "--steps", "1", "--no-progress"]) == 2
    assert "Llama-family" in capsys.readouterr().err
