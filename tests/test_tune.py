"""The tuning stage's pure parts: data, rendering, bos handling, truncation, target modules."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import torch

from finetox.config import section_defaults
from finetox.io import InputError, UserError
from finetox.resume import STAMP
from finetox.tune.data import load_dolly
from finetox.tune.model import (
    TargetModuleError,
    add_lora,
    linear_module_names,
    resolve_target_modules,
)
from finetox.tune.render import (
    IGNORE_INDEX,
    Rendered,
    adds_bos,
    build_training_data,
    pack,
    render,
    render_paper_inst,
    tokenize_rendered,
)
from finetox.tune.settings import resolve_recipe
from finetox.tune.training import (
    last_complete_checkpoint,
    loss_curve,
    prepare_checkpoints,
    training_arguments,
)
from tests.tune_support import build_tokenizer, write_dolly


@pytest.fixture(scope="module")
def llama_like(tmp_path_factory):
    """bos <s>, added by the tokenizer itself (Llama-2)."""
    return build_tokenizer(tmp_path_factory.mktemp("llama-tok"))


@pytest.fixture(scope="module")
def gemma_like(tmp_path_factory):
    """bos <bos>, added by the tokenizer itself; <s> is plain text (Gemma, Llama-3)."""
    return build_tokenizer(tmp_path_factory.mktemp("gemma-tok"), bos="<bos>", eos="<eos>")


@pytest.fixture(scope="module")
def phi3_like(tmp_path_factory):
    """bos <s>, not added by the tokenizer (add_bos_token false)."""
    return build_tokenizer(tmp_path_factory.mktemp("phi-tok"), add_bos=False)


def tune(**overrides):
    settings = section_defaults("tune")
    settings.update(overrides)
    return settings


# --- rendering ----------------------------------------------------------------------------------


def test_paper_inst_rendering_without_context():
    rendered = render_paper_inst("Name a colour.", "", "Blue.", "</s>")
    assert rendered.text == "<s>[INST] Name a colour. [/INST] Blue.</s>"
    assert rendered.text[rendered.response_start :] == "Blue.</s>"


def test_paper_inst_rendering_with_context_joins_without_separator():
    rendered = render_paper_inst("Summarize.", "The sky is blue.", "Blue sky.", "<eos>")
    assert rendered.text == (
        "<s>[INST] Summarize.Here's some context: The sky is blue. [/INST] Blue sky.<eos>"
    )
    assert rendered.text[rendered.response_start :] == "Blue sky.<eos>"


def test_real_dolly_records_render_as_the_authors(shared_data, llama_like):
    data = load_dolly({"path": str(shared_data / "dolly" / "dolly_sample.jsonl")})
    assert data.available == len(data.records) == 23
    for record in data.records.to_dict("records"):
        text = render(record, llama_like, "paper_inst").text
        context = f"Here's some context: {record['context']}" if record["context"] else ""
        expected = f"<s>[INST] {record['instruction']}{context} [/INST] {record['response']}</s>"
        assert text == expected
    assert (data.records["context"] == "").any() and (data.records["context"] != "").any()


# --- bos and eos --------------------------------------------------------------------------------


def tokens(tokenizer, text="<s>[INST] hello [/INST] the market .", loss_on="all"):
    rendered = Rendered(text + tokenizer.eos_token, text.index("the market"))
    (example,) = tokenize_rendered(tokenizer, [rendered], max_seq_length=None, loss_on=loss_on)
    return example


def test_literal_bos_is_the_only_bos_where_the_tokenizer_adds_one(llama_like):
    assert adds_bos(llama_like)
    # the authors' trl run tokenized with special tokens on: two bos tokens
    doubled = llama_like("<s>[INST] hello", add_special_tokens=True)["input_ids"]
    assert doubled[:2] == [llama_like.bos_token_id] * 2
    ids = tokens(llama_like).input_ids
    assert ids[0] == llama_like.bos_token_id
    assert ids.count(llama_like.bos_token_id) == 1
    assert ids[-1] == llama_like.eos_token_id


def test_other_bos_goes_in_front_and_literal_s_stays_text(gemma_like):
    assert gemma_like.bos_token == "<bos>" and adds_bos(gemma_like)
    ids = tokens(gemma_like).input_ids
    assert ids[0] == gemma_like.bos_token_id
    assert ids.count(gemma_like.bos_token_id) == 1
    assert gemma_like.decode(ids[1:]).startswith("<s>[INST]")
    assert ids[-1] == gemma_like.eos_token_id


def test_literal_bos_is_kept_where_the_tokenizer_adds_none(phi3_like):
    assert not adds_bos(phi3_like)
    ids = tokens(phi3_like).input_ids
    assert ids[0] == phi3_like.bos_token_id and ids.count(phi3_like.bos_token_id) == 1


def test_loss_on_response_masks_the_prompt(llama_like):
    full = tokens(llama_like, loss_on="all")
    masked = tokens(llama_like, loss_on="response")
    assert full.labels == full.input_ids
    kept = [t for t in masked.labels if t != IGNORE_INDEX]
    assert llama_like.decode(kept).strip() == "the market .</s>"
    assert masked.labels[0] == IGNORE_INDEX


def test_chat_template_rendering(llama_like):
    llama_like.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}"
        "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    try:
        record = {"instruction": "Summarize.", "context": "the river .", "response": "a river ."}
        rendered = render(record, llama_like, "chat_template")
        assert rendered.text == (
            "<s><|user|>Summarize.\n\nHere's some context: the river .</s>"
            "<|assistant|>a river .</s>"
        )
        assert rendered.text[rendered.response_start :] == "a river .</s>"
        (example,) = tokenize_rendered(
            llama_like, [rendered], max_seq_length=None, loss_on="response"
        )
        assert example.input_ids.count(llama_like.bos_token_id) == 1
        kept = [t for t in example.labels if t != IGNORE_INDEX]
        assert llama_like.decode(kept).replace(" ", "") == "ariver.</s>"
    finally:
        llama_like.chat_template = None


def test_chat_template_missing_is_a_clear_error(llama_like):
    record = {"instruction": "a", "context": "", "response": "b"}
    with pytest.raises(UserError, match="has no chat template; use format: paper_inst"):
        render(record, llama_like, "chat_template")


# --- truncation and packing ---------------------------------------------------------------------


def test_truncation_is_counted(llama_like, tmp_path):
    data = load_dolly({"path": str(write_dolly(tmp_path / "d.jsonl", n=30))})
    whole = build_training_data(data.records, llama_like, tune(max_seq_length=4096))
    assert whole.counts["truncated"] == 0 and whole.counts["tokens_cut"] == 0
    lengths = [len(e.input_ids) for e in whole.examples]
    limit = sorted(lengths)[len(lengths) // 2]
    cut = build_training_data(data.records, llama_like, tune(max_seq_length=limit))
    expected_cut = sum(max(0, n - limit) for n in lengths)
    assert cut.counts["truncated"] == sum(1 for n in lengths if n > limit) > 0
    assert cut.counts["tokens_cut"] == expected_cut
    assert cut.counts["tokens"] == whole.counts["tokens"] == sum(lengths)
    assert max(len(e.input_ids) for e in cut.examples) == limit
    # a cut sequence loses its eos; the others keep it
    for example, n in zip(cut.examples, lengths, strict=True):
        assert (example.input_ids[-1] == llama_like.eos_token_id) == (n <= limit)


def test_responses_cut_off_entirely_are_caught(llama_like, tmp_path, caplog):
    """With the loss on the response only, a sequence cut before its response teaches nothing:
    some such sequences are logged, all of them stop the job before training."""
    data = load_dolly({"path": str(write_dolly(tmp_path / "d.jsonl", n=30))})
    whole = build_training_data(
        data.records, llama_like, tune(max_seq_length=4096, loss_on="response")
    )
    prompts = sorted(
        sum(1 for t in e.labels if t == IGNORE_INDEX) for e in whole.examples
    )  # the prompt's tokens: masked
    with pytest.raises(UserError, match="none of the 30 training sequences has a token"):
        build_training_data(
            data.records, llama_like, tune(max_seq_length=prompts[0], loss_on="response")
        )
    limit = prompts[len(prompts) // 2]  # about half the responses start past the cut
    with caplog.at_level("WARNING", logger="finetox.tune"):
        some = build_training_data(
            data.records, llama_like, tune(max_seq_length=limit, loss_on="response")
        )
    assert some.counts["loss_tokens"] > 0
    assert re.search(r"\d+ of 30 training sequences carry no loss", caplog.text), caplog.text


def test_packing_cuts_the_stream_into_blocks(llama_like, tmp_path):
    data = load_dolly({"path": str(write_dolly(tmp_path / "d.jsonl", n=10))})
    packed = build_training_data(data.records, llama_like, tune(max_seq_length=32, packing=True))
    total = packed.counts["tokens"]
    assert packed.counts["truncated"] == 0
    assert [len(e.input_ids) for e in packed.examples[:-1]] == [32] * (len(packed.examples) - 1)
    assert sum(len(e.input_ids) for e in packed.examples) == total
    assert packed.counts["sequences"] == len(packed.examples) == -(-total // 32)
    assert pack([], 8) == []


# --- data ---------------------------------------------------------------------------------------


def test_local_data_max_records_and_hash(tmp_path):
    path = write_dolly(tmp_path / "d.jsonl", n=12)
    some = load_dolly({"path": str(path)}, max_records=5)
    again = load_dolly({"path": str(path)}, max_records=5)
    every = load_dolly({"path": str(path)})
    assert (some.available, len(some.records), len(every.records)) == (12, 5, 12)
    assert some.source["sha256"] == again.source["sha256"] != every.source["sha256"]
    assert some.source["file_sha256"] == every.source["file_sha256"]


def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"instruction": "a", "answer": "b"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl: missing Dolly column\(s\) \['context', 'response'\]"):  # fmt: skip
        load_dolly({"path": str(path)})


def test_empty_response_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    rows = [{"instruction": "a", "context": "", "response": "b"}] * 2
    rows.append({"instruction": "a", "context": None, "response": " "})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match=r"empty response in record\(s\) 2"):
        load_dolly({"path": str(path)})


def test_hub_data_goes_through_datasets_at_the_resolved_commit(monkeypatch, tmp_path):
    """The revision is resolved to its commit first; datasets loads that commit, which the
    source record keeps."""
    from types import SimpleNamespace

    import datasets
    import huggingface_hub

    calls = {}
    commit = "c" * 40
    rows = [{"instruction": "a", "context": "", "response": "b", "category": "open_qa"}] * 3

    def fake_load_dataset(name, **kwargs):
        calls.update(name=name, **kwargs)
        return datasets.Dataset.from_list(rows)

    def dataset_info(self, repo_id, *, revision=None, token=None, **kwargs):
        calls["resolved"] = (repo_id, revision, token)
        return SimpleNamespace(id=repo_id, sha=commit)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "secret")
    data = load_dolly(
        {"hub": "databricks/databricks-dolly-15k", "revision": "abc", "split": "train"}, 2
    )
    assert calls == {
        "resolved": ("databricks/databricks-dolly-15k", "abc", "secret"),
        "name": "databricks/databricks-dolly-15k",
        "split": "train",
        "revision": commit,
        "token": "secret",
    }
    assert (data.available, len(data.records)) == (3, 2)
    assert data.source["hub"] == "databricks/databricks-dolly-15k"
    assert (data.source["revision"], data.source["commit"]) == ("abc", commit)
    assert "secret" not in json.dumps(data.source)


# --- recipe -------------------------------------------------------------------------------------


def test_defaults_are_the_authors_recipe():
    recipe = section_defaults("tune")
    assert {k: recipe[k] for k in ("r", "alpha", "dropout", "bias", "learning_rate")} == {
        "r": 16, "alpha": 16, "dropout": 0.0, "bias": "none", "learning_rate": 2e-4,
    }  # fmt: skip
    assert recipe["target_modules"] == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    ]  # fmt: skip
    assert (recipe["per_device_batch_size"], recipe["gradient_accumulation_steps"]) == (2, 8)
    assert (recipe["warmup_steps"], recipe["weight_decay"], recipe["seed"]) == (5, 0.01, 3407)
    assert (recipe["lr_scheduler"], recipe["epochs"], recipe["max_seq_length"]) == ("linear", 1, 2048)  # fmt: skip
    assert (recipe["format"], recipe["packing"], recipe["loss_on"]) == ("paper_inst", False, "all")
    on_gpu, on_cpu = resolve_recipe(recipe, cuda=True), resolve_recipe(recipe, cuda=False)
    assert (on_gpu["load_in_4bit"], on_gpu["optim"], on_gpu["gradient_checkpointing"]) == (
        True, "adamw_8bit", True,
    )  # fmt: skip
    assert (on_cpu["load_in_4bit"], on_cpu["optim"]) == (False, "adamw_torch")
    assert recipe["load_in_4bit"] == "auto"  # the configured value is left as it was
    explicit = resolve_recipe({**recipe, "load_in_4bit": False, "optim": "adamw_torch"}, True)
    assert (explicit["load_in_4bit"], explicit["optim"]) == (False, "adamw_torch")


def test_unknown_optimizer_is_a_clear_error(tmp_path):
    recipe = resolve_recipe(tune(optim="adamw_nonsense"), cuda=False)
    with pytest.raises(
        UserError, match="tune: transformers rejects these settings: adamw_nonsense"
    ):
        training_arguments(recipe, tmp_path, torch.device("cpu"))


# --- target modules -----------------------------------------------------------------------------

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "vocab_size": 64}


def tiny_model(kind: str):
    from transformers import (
        AutoModelForCausalLM,
        Gemma2Config,
        GemmaConfig,
        GPT2Config,
        LlamaConfig,
        Phi3Config,
    )

    heads = {"num_attention_heads": 4, "num_key_value_heads": 2}
    configs = {
        "llama": lambda: LlamaConfig(**TINY, **heads),
        "gemma": lambda: GemmaConfig(**TINY, **heads, head_dim=8),
        "gemma2": lambda: Gemma2Config(**TINY, **heads, head_dim=8),
        "phi3": lambda: Phi3Config(**TINY, **heads, pad_token_id=0),
        "gpt2": lambda: GPT2Config(n_embd=32, n_layer=1, n_head=4, vocab_size=64),
    }
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(configs[kind]())


WANTED = section_defaults("tune")["target_modules"]


@pytest.mark.parametrize("kind", ["llama", "gemma", "gemma2"])
def test_unfused_architectures_take_the_seven_projections(kind):
    model = tiny_model(kind)
    assert resolve_target_modules(model, WANTED) == WANTED


def test_phi3_fused_projections_are_mapped():
    model = tiny_model("phi3")
    assert set(linear_module_names(model)) == {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}
    assert resolve_target_modules(model, WANTED) == [
        "qkv_proj",
        "o_proj",
        "gate_up_proj",
        "down_proj",
    ]
    assert resolve_target_modules(model, ["q_proj"]) == ["qkv_proj"]


def test_lora_applies_to_phi3_fused_layers():
    model, targets = add_lora(tiny_model("phi3"), resolve_recipe(section_defaults("tune"), False))
    wrapped = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if hasattr(m, "lora_A")}
    assert wrapped == set(targets) == {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_no_matching_module_is_a_clear_error():
    with pytest.raises(TargetModuleError) as error:
        resolve_target_modules(tiny_model("gpt2"), WANTED)
    message = str(error.value)
    assert message.startswith("tune.target_modules: none of ['q_proj'")
    assert "gpt2 model; its linear layers are ['c_attn', 'c_fc', 'c_proj']" in message


# --- checkpoints and the loss curve -------------------------------------------------------------


def test_checkpoints_of_other_settings_are_not_resumed(tmp_path):
    folder = tmp_path / "ckpt"
    fingerprint = {"source": "m", "recipe": {"r": 16}, "data_sha256": "x"}
    assert prepare_checkpoints(folder, fingerprint) is None
    for step, complete in ((2, True), (4, True), (6, False)):
        (folder / f"checkpoint-{step}").mkdir()
        if complete:
            (folder / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert prepare_checkpoints(folder, fingerprint) == folder / "checkpoint-4"
    assert not (folder / "checkpoint-6").exists()  # a partial save is removed
    assert prepare_checkpoints(folder, {**fingerprint, "data_sha256": "y"}) is None
    assert sorted(p.name for p in folder.iterdir()) == [STAMP]
    assert last_complete_checkpoint(tmp_path / "none") is None


def test_loss_curve_keeps_step_loss_and_learning_rate():
    history = [
        {"loss": 2.0, "grad_norm": 1.0, "learning_rate": 1e-4, "epoch": 0.5, "step": 1},
        {"loss": 1.5, "grad_norm": 1.0, "learning_rate": 2e-4, "epoch": 1.0, "step": 2},
        {"train_runtime": 3.0, "train_loss": 1.75, "epoch": 1.0, "step": 2},
    ]
    expected = pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.5], "learning_rate": [1e-4, 2e-4]})
    pd.testing.assert_frame_equal(loss_curve(history), expected)
