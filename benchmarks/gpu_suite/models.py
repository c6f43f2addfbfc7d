"""Random-weight models of the real shapes, saved as finetox loads them: the language models with
a tokenizer over their whole vocabulary, and the RoBERTa-base-shaped classifier."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .measure import free_memory
from .shapes import (
    ROBERTA_BASE,
    ROBERTA_POSITIONS,
    ROBERTA_TOY,
    ROBERTA_VOCABULARY,
    SHAPES,
    shape_summary,
)
from .siblings import sibling_benchmark


@dataclass(frozen=True)
class Vocabulary:
    tokenizer: Any
    first: int  # prompt ids are drawn from [first, stop): no special token among them
    stop: int


def special_tokens(size: int, family: str) -> tuple[dict[int, str], dict[str, str | None], range]:
    """Where the real models keep their special tokens: ids -> names, the roles (bos, eos, pad,
    unk) and the ids left for words."""
    if family == "llama":  # no pad token: finetox (and the authors' loop) pad with eos
        names = {size - 256: "<|begin_of_text|>", size - 255: "<|end_of_text|>"}
        names[size - 254] = "<unk>"  # Llama-3 has none; text outside the ids maps here
        roles = {"bos": names[size - 256], "eos": names[size - 255], "pad": None, "unk": "<unk>"}
        return names, roles, range(0, size - 256)
    names = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>"}
    roles = {"bos": "<bos>", "eos": "<eos>", "pad": "<pad>", "unk": "<unk>"}
    return names, roles, range(4, size)


def id_tokenizer(config, family: str) -> Vocabulary:
    """A word-level tokenizer over the model's whole vocabulary: id i is the word "t{i}", the
    special tokens sit at the real models' ids, bos goes in front as theirs do."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    size = config.vocab_size
    names, roles, word_ids = special_tokens(size, family)
    bos, pad, unk = roles["bos"], roles["pad"], roles["unk"]
    vocab = {names.get(i, f"t{i}"): i for i in range(size)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=roles["eos"],
        unk_token=unk,
        **({"pad_token": pad} if pad else {}),
        model_input_names=["input_ids", "attention_mask"],
    )
    return Vocabulary(tokenizer, word_ids.start, word_ids.stop)


def random_lm(config, on, dtype) -> tuple[Any, float, int]:
    """A causal LM of `config` with random weights (seed 0) built on device `on`; the seconds the
    build took and its parameter count."""
    import torch
    from transformers import AutoModelForCausalLM

    started = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(on):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    built = time.perf_counter() - started
    return model, built, sum(p.numel() for p in model.parameters())


def build_lm(folder: Path, name: str, smoke: bool, on, dtype) -> dict[str, Any]:
    """A random-weight model of `name`'s shape, saved with its tokenizer; what it took, and the
    tokenizer's vocabulary under "vocabulary"."""
    shape = SHAPES[name]
    config = shape.make_config(smoke)
    vocabulary = id_tokenizer(config, shape.family)
    model, built, params = random_lm(config, on, dtype)
    started = time.perf_counter()
    model.save_pretrained(folder)
    vocabulary.tokenizer.save_pretrained(folder)
    saved = time.perf_counter() - started
    del model
    free_memory()
    return {
        "architecture": type(config).__name__.removesuffix("Config"),
        "config": shape_summary(config),
        "params": params,
        "params_b_in_study": shape.params_b,
        "build_s": built,
        "save_s": saved,
        "vocabulary": vocabulary,
    }


def build_classifier(folder: Path, smoke: bool) -> dict[str, Any]:
    """RoBERTa-base's shape (labels nothing/hate), random weights with the head aimed so scores
    spread over 0..1 (as benchmarks/scoring.py does), the demo's byte-level BPE tokenizer; saved
    in float32 as the real classifier is."""
    import torch
    from transformers import RobertaForSequenceClassification

    from finetox.demo.tiny_classifier import roberta_config, train_tokenizer

    tokenizer = train_tokenizer(np.random.default_rng([0, 1]))
    tokenizer.model_max_length = ROBERTA_POSITIONS
    sizes = ROBERTA_TOY if smoke else ROBERTA_BASE
    config = roberta_config(ROBERTA_VOCABULARY, ROBERTA_POSITIONS, initializer_range=0.1, **sizes)
    torch.manual_seed(0)
    model = RobertaForSequenceClassification(config).eval()
    sibling_benchmark("scoring").spread_scores(model, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {
        "architecture": "Roberta",
        "config": {
            **sizes,
            "vocab_size": config.vocab_size,
            "max_position_embeddings": config.max_position_embeddings,
            "labels": dict(config.id2label),
        },
        "params": sum(p.numel() for p in model.parameters()),
        "tokenizer": f"the demo's byte-level BPE ({len(tokenizer)} tokens; ids beyond unused)",
    }
