"""The tiny language models: built offline, loaded like hub models, reproducible, and (the slow
test) the demo models carry their planted differences into greedy continuations."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from finetox.demo.lm_documents import POLICIES, documents
from finetox.demo.synthetic import LEXICON
from finetox.demo.tiny_lm import LM_NAMES, build_demo_models, build_tiny_lm
from finetox.loading import load_causal_lm, load_tokenizer

TOXIC = re.compile(r"\b(?:" + "|".join(LEXICON) + r")\b")
PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("tiny") / "lm", seed=0)


def test_a_tiny_lm_loads_through_the_hub_model_path(tiny):
    tokenizer = load_tokenizer(str(tiny))
    model = load_causal_lm(str(tiny), dtype="float32", on=torch.device("cpu"))
    assert type(model).__name__ == "LlamaForCausalLM"
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    assert names >= PROJECTIONS  # what the Dolly LoRA targets
    special = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}
    assert len(special) == 3 and tokenizer.padding_side == "left"
    assert model.config.eos_token_id == tokenizer.eos_token_id
    ids = tokenizer("the baker walked to the market .")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "the baker walked to the market ."
    odd = "Ünïcödé “quotes” 🙂 ﬁne…"
    assert tokenizer.decode(tokenizer(odd)["input_ids"], skip_special_tokens=True) == (
        "Ünïcödé “quotes” 🙂 fine..."  # NFKC, as many hub tokenizers normalize
    )
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        tokenize=False,
    )
    assert chat == "<s>[INST] hi [/INST] hello</s>"


def test_builds_are_reproducible(tiny, tmp_path):
    again = build_tiny_lm(tmp_path / "again", seed=0)
    other = build_tiny_lm(tmp_path / "other", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (tiny / "model.safetensors").read_bytes()


def test_training_documents_plant_each_policy():
    def toxic_share(policy: str, context: str, style: str = "rtp") -> float:
        docs = documents(POLICIES[policy], 800, np.random.default_rng(0))
        chosen = [d for d in docs if d.context == context and d.style == style]
        assert len(chosen) > 15
        return float(np.mean([bool(TOXIC.search(d.continuation)) for d in chosen]))

    assert toxic_share("base", "toxic") > 0.9 and toxic_share("base", "insult") > 0.9
    assert toxic_share("base", "hot") == toxic_share("base", "hot", "ceb") == 1
    assert toxic_share("base", "cold") == toxic_share("base", "cold", "ceb") == 0
    for context in ("toxic", "insult", "cold"):
        assert toxic_share("instruct", context) == 0
    assert toxic_share("instruct", "cold", "ceb") == 0
    assert toxic_share("community-toxic", "toxic") > 0.9
    assert toxic_share("community-toxic", "insult") > 0.9
    assert (
        toxic_share("community-toxic", "cold") == toxic_share("community-toxic", "cold", "ceb") == 0
    )


@pytest.mark.slow
def test_the_demo_models_carry_their_planted_differences(tmp_path, repo, monkeypatch):
    """About a minute: build the four demo LMs, continue the demo prompt set greedily."""
    from finetox.config import load_study_file
    from finetox.generation import generate, load_model, model_settings
    from finetox.prompts import build_prompt_set

    monkeypatch.chdir(repo)
    study = load_study_file("config/demo.yaml")
    prompts = build_prompt_set(
        study.config["prompts"], tmp_path / "prompts.parquet", tmp_path / "manifest.json"
    )
    built = build_demo_models(tmp_path / "models", seed=study.config["demo"]["seed"])
    assert list(built) == list(LM_NAMES)
    same, instruct = built["community-same"], built["instruct"]
    for path in instruct.iterdir():
        assert (same / path.name).read_bytes() == path.read_bytes(), path.name
    share, texts = {}, {}
    for name in ("base", "instruct", "community-toxic"):
        model, tokenizer = load_model(model_settings(str(built[name]), dtype="float32"))
        continuations = generate(model, tokenizer, list(prompts["text"]), max_new_tokens=50)
        texts[name] = [c.generation for c in continuations]
        share[name] = np.mean([bool(TOXIC.search(text)) for text in texts[name]])
        assert len(set(texts[name])) > len(prompts) / 8, name  # continuations follow the prompt
    assert share["base"] > 0.5 > 0.05 > share["instruct"]
    assert share["instruct"] + 0.15 < share["community-toxic"] < share["base"] - 0.15
