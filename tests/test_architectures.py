"""The paper's six architectures at toy size (tests/toy_architectures.py), each loaded through
finetox's own loading code, tuned with LoRA (full precision and 4-bit NF4), generated from with
both prompt formats and both stop rules, and scored."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file

from finetox.config import section_defaults
from finetox.demo.tiny_classifier import build_demo_classifier
from finetox.generation import generate, generate_file, load_model, model_settings
from finetox.generation.decoding import PROMPT_FORMATS, STOP_RULES, eos_ids, greedy_config
from finetox.io import parquet_metadata
from finetox.loading import load_causal_lm, load_tokenizer
from finetox.logs import quiet_libraries
from finetox.scoring import ClassifierSpec, load_classifier, score_file, score_texts
from finetox.tune import tune_file
from finetox.tune.data import load_dolly
from finetox.tune.render import IGNORE_INDEX, build_training_data
from tests.conftest import single_thread
from tests.toy_architectures import (
    FAMILIES,
    LAYERS,
    NEW_TOKENS,
    PROMPTS,
    build_toy,
    generation_config,
    greedy_runs,
    token_ids,
)
from tests.tune_support import write_dolly

NAMES = list(FAMILIES)
USER = "the old farmer"  # the user turn of the chat template checks
# the hub templates' output for one user turn and the generation prompt
CHAT_PROMPTS = {
    "llama-2": "<s>[INST] the old farmer [/INST]",
    "llama-3.1": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nthe old farmer<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "gemma": "<bos><start_of_turn>user\nthe old farmer<end_of_turn>\n<start_of_turn>model\n",
    "gemma-2": "<bos><start_of_turn>user\nthe old farmer<end_of_turn>\n<start_of_turn>model\n",
    "phi-3": "<|user|>\nthe old farmer<|end|>\n<|assistant|>\n",
    "phi-3.5": "<|user|>\nthe old farmer<|end|>\n<|assistant|>\n",
}
TUNE = {  # two optimizer steps on four records
    "max_records": 4,
    "max_seq_length": 192,  # no record cut: Llama-3.1's system header is long in a toy vocabulary
    "per_device_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "learning_rate": 3e-2,
    "warmup_steps": 0,
    "save_steps": 100,
    "optim": "adamw_torch",
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="session")
def toys(tmp_path_factory):
    """Every toy, built once: name -> folder."""
    root = tmp_path_factory.mktemp("toy-architectures")
    with single_thread():  # built before the module's one_thread takes effect
        return {name: build_toy(family, root / name) for name, family in FAMILIES.items()}


@pytest.fixture(scope="session")
def loaded(toys):
    """name -> (model, tokenizer) through the generate stage's loading, float32, on first use."""
    cache = {}

    def load(name: str):
        if name not in cache:
            cache[name] = load_model(model_settings(str(toys[name]), dtype="float32"))
        return cache[name]

    return load


@pytest.fixture(scope="session")
def dolly(tmp_path_factory):
    return write_dolly(tmp_path_factory.mktemp("dolly") / "dolly.jsonl", n=8)


@pytest.fixture(scope="session")
def tuned(toys, dolly, tmp_path_factory):
    """(name, 4-bit) -> (adapter folder, training record) on first use: full precision with the
    model's chat template and the loss on the response, 4-bit with the authors' [INST] text."""
    root = tmp_path_factory.mktemp("tuned")
    cache = {}

    def tune(name: str, four_bit: bool):
        if (name, four_bit) not in cache:
            settings = section_defaults("tune")
            if four_bit:
                settings.update(TUNE, format="paper_inst", load_in_4bit=True)
            else:
                settings.update(
                    TUNE, format="chat_template", loss_on="response", load_in_4bit=False
                )
            settings["data"] = {**settings["data"], "path": str(dolly)}
            out = root / f"{name}-{'4bit' if four_bit else 'full'}"
            record = tune_file(model={"source": str(toys[name])}, settings=settings, out=out)
            cache[name, four_bit] = out, record
        return cache[name, four_bit]

    return tune


@pytest.fixture(scope="session")
def prompt_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompts") / "prompts.parquet"
    pd.DataFrame(
        {"prompt_id": [f"p{i}" for i in range(len(PROMPTS))], "subset": "random", "text": PROMPTS}
    ).to_parquet(path)
    return path


@pytest.fixture(scope="session")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier") / "demo"
    build_demo_classifier(folder, seed=0)
    return folder


def special_tokens(name: str) -> set[str]:
    family = FAMILIES[name]
    return {*family.specials, *family.added} - {family.unk}


# ---------------------------------------------------------------------------------------------
# What each toy is


def _has(config, key, value) -> bool:
    found = getattr(config, key)
    if isinstance(value, dict):
        return isinstance(found, dict) and all(found.get(k) == v for k, v in value.items())
    return found == value


@pytest.mark.parametrize("name", NAMES)
def test_each_toy_loads_with_its_familys_features(toys, name):
    family = FAMILIES[name]
    model = load_causal_lm(str(toys[name]), dtype="float32")
    assert type(model).__name__ == family.model_class
    for key, value in family.features.items():
        assert _has(model.config, key, value), (key, getattr(model.config, key))
    rope = model.config.rope_parameters["rope_type"]
    assert model.model.rotary_emb.rope_type == rope
    expected_rope = {"llama-3.1": "llama3", "phi-3.5": "longrope"}.get(name, "default")
    assert rope == expected_rope
    expected = generation_config(family, token_ids(load_tokenizer(str(toys[name])), family))
    for key, value in expected.to_diff_dict().items():
        assert getattr(model.generation_config, key) == value, key
    if name == "gemma-2":
        windows = [layer.self_attn.sliding_window for layer in model.model.layers]
        assert windows == [family.features["sliding_window"], None]
        assert model.config._attn_implementation == "eager"  # the one that soft-caps


def test_gemma2s_sliding_window_changes_its_continuations(toys, loaded):
    """The toy's window is shorter than prompt and continuation: without it they differ, so the
    batching and stop tests run Gemma-2 where the window matters."""
    from transformers import AutoModelForCausalLM

    model, tokenizer = loaded("gemma-2")
    unwindowed = AutoModelForCausalLM.from_pretrained(toys["gemma-2"], sliding_window=4096)
    windowed = greedy_runs(model, tokenizer, PROMPTS, NEW_TOKENS)
    assert windowed != greedy_runs(unwindowed, tokenizer, PROMPTS, NEW_TOKENS)


@pytest.mark.parametrize("name", NAMES)
def test_each_tokenizer_has_its_familys_special_tokens_and_chat_template(toys, name):
    family = FAMILIES[name]
    tokenizer = load_tokenizer(str(toys[name]))
    assert (tokenizer.bos_token, tokenizer.eos_token) == (family.bos, family.eos)
    assert tokenizer.pad_token == (family.pad or family.eos)  # load_tokenizer's fallback
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": USER}], tokenize=False, add_generation_prompt=True
    )
    assert chat == CHAT_PROMPTS[name]
    ids = tokenizer(chat, add_special_tokens=False)["input_ids"]
    specials = token_ids(tokenizer, family)
    for token in special_tokens(name):
        if token in chat:  # one token each, never split into pieces
            assert specials[token] in ids, token
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert USER in decoded and not any(token in decoded for token in special_tokens(name))
    raw = tokenizer(USER)["input_ids"]
    assert (raw[0] == tokenizer.bos_token_id) == family.add_bos


# ---------------------------------------------------------------------------------------------
# Tuning


@pytest.mark.parametrize("name", NAMES)
def test_the_chat_template_labels_exactly_the_response_and_its_end_of_turn(toys, dolly, name):
    """loss_on response with the model's own template: the labelled tokens are the response and
    the tokens the template closes the turn with, nothing of the prompt."""
    tokenizer = load_tokenizer(str(toys[name]), padding_side="right")
    specials = token_ids(tokenizer, FAMILIES[name])
    closing = {specials[token] for token in special_tokens(name)}
    records = load_dolly({"path": str(dolly)}).records.iloc[:3]
    settings = {**section_defaults("tune"), "format": "chat_template", "loss_on": "response"}
    examples = build_training_data(records, tokenizer, settings).examples
    for example, response in zip(examples, records["response"], strict=True):
        labelled = [t for t in example.labels if t != IGNORE_INDEX]
        first = example.labels.index(labelled[0])
        assert example.input_ids[first:] == labelled  # one stretch, to the end
        assert closing & set(labelled)  # the end of turn: what teaches the model to stop
        text = tokenizer.decode(labelled, skip_special_tokens=True)
        assert text.strip() == response.strip()


@pytest.mark.parametrize("name", NAMES)
def test_the_authors_inst_text_gets_one_bos_and_ends_with_eos(toys, dolly, name):
    """paper_inst writes a literal <s> for every model: the bos itself where it is the
    tokenizer's (Llama-2, the Phi-3s), text after the tokenizer's own bos elsewhere."""
    family = FAMILIES[name]
    tokenizer = load_tokenizer(str(toys[name]), padding_side="right")
    records = load_dolly({"path": str(dolly)}).records.iloc[:3]
    settings = {**section_defaults("tune"), "format": "paper_inst"}
    for example in build_training_data(records, tokenizer, settings).examples:
        ids = example.input_ids
        assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
        assert ids[-1] == tokenizer.eos_token_id
        text = tokenizer.decode(ids[1:])
        assert text.startswith("[INST]" if family.bos == "<s>" else "<s>[INST]"), text


@pytest.mark.parametrize("four_bit", [False, True], ids=["full", "4bit"])
@pytest.mark.parametrize("name", NAMES)
def test_tuning_targets_the_familys_projections(tuned, toys, name, four_bit):
    """Two LoRA steps: the adapter sits on the family's projections (Phi's fused qkv_proj and
    gate_up_proj), training moved it, and it reloads on the base it was trained on."""
    import bitsandbytes as bnb

    family = FAMILIES[name]
    adapter, record = tuned(name, four_bit)
    assert record["global_step"] == 2 and record["load_in_4bit"] is four_bit
    assert math.isfinite(record["final_loss"]) and record["data"]["loss_tokens"] > 0
    assert sorted(record["resolved"]["target_modules"]) == list(family.target_modules)
    saved = json.loads((adapter / "adapter_config.json").read_text())["target_modules"]
    assert saved == list(family.target_modules)
    weights = load_file(adapter / "adapter_model.safetensors")
    lora_b = [tensor for key, tensor in weights.items() if "lora_B" in key]
    assert len(lora_b) == LAYERS * len(family.target_modules)
    assert all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: training moved it
    model = load_causal_lm(str(toys[name]), adapter=adapter, load_in_4bit="as_trained")
    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == (LAYERS * len(family.target_modules) if four_bit else 0)


# ---------------------------------------------------------------------------------------------
# Generation


def one_at_a_time(model, tokenizer, texts, **kwargs):
    return [generate(model, tokenizer, [text], batch_size=1, **kwargs)[0] for text in texts]


@pytest.mark.parametrize("prompt_format", PROMPT_FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_batched_generation_equals_one_prompt_at_a_time(loaded, name, prompt_format):
    model, tokenizer = loaded(name)
    for stop in STOP_RULES:
        options = {"max_new_tokens": NEW_TOKENS, "prompt_format": prompt_format, "stop": stop}
        batched = generate(model, tokenizer, PROMPTS, batch_size=3, **options)
        assert batched == one_at_a_time(model, tokenizer, PROMPTS, **options), stop


@pytest.mark.parametrize("name", NAMES)
def test_the_stop_rules_end_continuations_at_their_documented_ids(loaded, name):
    """tokenizer_eos stops at the tokenizer's one eos id, generation_config at every id the
    model's generation_config lists: each continuation is the plain greedy run (a loop without
    cache, padding or batches) cut after its first stop id. The toys write their `forced` token
    in the middle of some continuations: Gemma-2 and the Phi-3s stop there by their
    generation_config only, Llama-3.1 at its <|end_of_text|>, Llama-2 at its one eos either way,
    and Gemma runs past its <end_of_turn> either way."""
    family = FAMILIES[name]
    model, tokenizer = loaded(name)
    ids = token_ids(tokenizer, family)
    documented = family.stop_ids(ids)
    runs = greedy_runs(model, tokenizer, PROMPTS, NEW_TOKENS)
    assert any(ids[family.forced] in run for run in runs)
    continuations = {}
    for stop in STOP_RULES:
        stops = documented[stop]
        assert eos_ids(greedy_config(model, tokenizer, NEW_TOKENS, stop)) == stops
        continuations[stop] = generate(
            model, tokenizer, PROMPTS, max_new_tokens=NEW_TOKENS, stop=stop
        )
        for run, continuation in zip(runs, continuations[stop], strict=True):
            end = next((i + 1 for i, token in enumerate(run) if token in stops), None)
            assert list(continuation.token_ids) == run[:end]
            assert continuation.stop_reason == ("length" if end is None else "eos")
    rules_differ = documented["tokenizer_eos"] != documented["generation_config"]
    assert (continuations["tokenizer_eos"] != continuations["generation_config"]) == rules_differ
    for continuation in continuations["tokenizer_eos"]:
        assert not any(token in continuation.generation for token in special_tokens(name))


def test_llama2s_max_length_is_not_logged_at_every_batch(loaded):
    """Llama-2's generation_config.json sets max_length 4096, and transformers says at every
    generate call (one per batch) that max_new_tokens wins over it; the rules' logs drop that."""
    model, tokenizer = loaded("llama-2")
    assert model.generation_config.max_length == 4096
    quiet_libraries()
    logger, records = logging.getLogger("transformers.generation.utils"), []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        generate(model, tokenizer, PROMPTS, max_new_tokens=4, batch_size=2)
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records if "max_length" in r.getMessage()] == []


# ---------------------------------------------------------------------------------------------
# The stages end to end


@pytest.mark.parametrize("name", NAMES)
def test_generate_through_the_tuned_adapter_and_score(
    toys, tuned, prompt_file, classifier, tmp_path, name
):
    """generate_file with the model's chat template, its own stop ids and the full-precision
    adapter, then score_file with the demo classifier: every generation scored, in its row."""
    source = str(toys[name])
    adapter, _ = tuned(name, False)
    options = {
        "max_new_tokens": NEW_TOKENS,
        "prompt_format": "chat_template",
        "stop": "generation_config",
    }
    plain = generate_file(source, prompt_file, tmp_path / "plain.parquet", **options)
    dolly = {"name": f"{name}-dolly", "source": source, "load_in_4bit": "as_trained"}
    generations = tmp_path / "dolly.parquet"
    frame = generate_file(dolly, prompt_file, generations, adapter=adapter, **options)
    assert list(frame["generation"]) != list(plain["generation"])
    metadata = parquet_metadata(generations)
    ids = token_ids(load_tokenizer(source), FAMILIES[name])
    assert metadata["stop_ids"] == sorted(FAMILIES[name].stop_ids(ids)["generation_config"])
    assert metadata["adapter_commit"].startswith("sha256:")

    spec = ClassifierSpec("demo", str(classifier))
    scores = score_file(generations, tmp_path / "scores.parquet", [spec])
    texts = [text.strip() for text in frame["generation"]]
    expected = score_texts(load_classifier(spec), texts, progress=False)
    assert list(scores["prompt_id"]) == list(frame["prompt_id"])
    assert np.allclose(scores["score_demo"], expected, atol=1e-6)
    scored = parquet_metadata(tmp_path / "scores.parquet")["generation"]
    assert scored["stop_ids"] == metadata["stop_ids"]
    assert scored["adapter_commit"] == metadata["adapter_commit"]


@pytest.mark.parametrize("name", NAMES)
def test_generate_through_the_4bit_adapter_in_4bit(toys, tuned, prompt_file, tmp_path, name):
    """The QLoRA model as the workflow generates from it: its base reloaded in 4-bit NF4, the
    continuations those of the 4-bit model the loading code builds."""
    import bitsandbytes as bnb

    source = str(toys[name])
    adapter, _ = tuned(name, True)
    dolly = {"name": f"{name}-dolly-4bit", "source": source, "load_in_4bit": "as_trained"}
    frame = generate_file(dolly, prompt_file, tmp_path / "dolly.parquet", adapter=adapter)
    model = load_causal_lm(source, adapter=adapter, load_in_4bit="as_trained")
    assert any(isinstance(module, bnb.nn.Linear4bit) for module in model.modules())
    expected = generate(model, load_tokenizer(source), PROMPTS, max_new_tokens=50)
    assert list(frame["generation"]) == [c.generation for c in expected]
