"""Tiny causal LMs with random weights and tokenizers trained here, for the tuning tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from finetox.demo.synthetic import clean_sentence, dolly_records, toxic_sentence


def training_corpus(n: int = 400) -> list[str]:
    rng = np.random.default_rng(0)
    texts = [clean_sentence(rng) for _ in range(n)] + [toxic_sentence(rng) for _ in range(n // 4)]
    texts += ["[INST] Tell me something about it . Here's some context: [/INST]"] * 20
    texts += [r["instruction"] + " " + r["response"] for r in dolly_records(n=60)]
    return texts


def build_tokenizer(folder: Path, *, bos: str = "<s>", eos: str = "</s>", add_bos: bool = True):
    """A BPE tokenizer; with add_bos it puts `bos` in front by itself, as Llama's and Gemma's do."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", bos, eos]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=list("<>|/"), show_progress=False
    )
    tokenizer.train_from_iterator(training_corpus(), trainer)
    if add_bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, 1)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, unk_token="<unk>"
    )
    fast.save_pretrained(folder)
    return fast


def build_tiny_llama(folder: Path, *, seed: int = 0, **tokenizer_options) -> Path:
    """A 2-layer LLaMA with random weights and its tokenizer, saved in Hugging Face format."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    tokenizer = build_tokenizer(folder, **tokenizer_options)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def write_dolly(path: Path, n: int = 48) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in dolly_records(n=n)))
    return path
