"""Tiny LLaMA-architecture language models for the offline demo and the tests.

Everything is built locally: a byte-level BPE tokenizer trained with `tokenizers` (bos, eos and
pad tokens, a Llama-2-style chat template) and LLaMA causal LMs saved in Hugging Face format, so
the demo and the tests load them through the same code as real hub models.

The demo models are trained for a few seconds on the synthetic language of
`finetox.demo.synthetic`, with planted, known differences in how they continue a prompt (base,
instruct, community-toxic: their training documents and policies are in
`finetox.demo.lm_documents`); community-same is the instruct model's files, byte for byte.

Each training document ends with eos, so greedy continuations stop by themselves. Tuning steps
(instruct, community-toxic) learn only the continuation, as instruction tuning does. Seeded and
single-threaded: the same files every run.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finetox import paths
from finetox.demo import synthetic as syn
from finetox.demo.lm_documents import POLICIES, Document, documents
from finetox.io import apply_umask

log = logging.getLogger("finetox.demo.tiny_lm")

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
# Llama-2 style: the user turn inside [INST] ... [/INST], the answer after it.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}[INST] {{ message['content'] | trim }} [/INST]"
    "{% elif message['role'] == 'assistant' %} {{ message['content'] | trim }}{{ eos_token }}"
    "{% else %}{{ raise_exception('only user and assistant turns are supported') }}{% endif %}"
    "{% endfor %}"
)
LM_NAMES = paths.DEMO_LMS  # what build_demo_models writes, in order


@dataclass(frozen=True)
class Architecture:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 192
    max_positions: int = 512


# ---------------------------------------------------------------------------------------------
# The tokenizer


def build_tokenizer(corpus: Iterable[str], vocab_size: int = 1024):
    """Byte-level BPE (any text encodes), NFKC-normalized, bos prepended, a chat template."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    # NFKC, as SentencePiece's default normalization: decoding does not always give the text
    # back ("…" comes back as "..."), the trap of cutting continuations by character count
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 1)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tokenizer_corpus(rng: np.random.Generator, n: int = 1500) -> list[str]:
    """Text of every kind the demo meets: synthetic sentences, CEB wrappers, Dolly records."""
    corpus = [syn.text_with_toxic_share(rng, 3, 0.3) for _ in range(n)]
    corpus += [record["prompt"] for axis in syn.CEB_DESCRIPTORS for record in syn.ceb_records(axis)]
    corpus += [
        f"[INST] {r['instruction']} Here's some context: {r['context']} [/INST] {r['response']}"
        for r in syn.dolly_records(n=200)
    ]
    return corpus


# Models


def tiny_config(tokenizer, architecture: Architecture = Architecture()):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=architecture.hidden_size,
        intermediate_size=architecture.intermediate_size,
        num_hidden_layers=architecture.num_layers,
        num_attention_heads=architecture.num_heads,
        num_key_value_heads=architecture.num_heads,
        max_position_embeddings=architecture.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )


def random_lm(tokenizer, architecture: Architecture = Architecture(), seed: int = 0):
    """An untrained LLaMA with seeded weights."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_config(tokenizer, architecture)).eval()


def _encode(tokenizer, docs: list[Document], chat_share: float, rng) -> list[tuple]:
    """(input ids, number of leading tokens without loss) per document."""
    encoded = []
    for prompt, continuation, *_ in docs:
        if chat_share and rng.random() < chat_share:
            prompt = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        else:
            prompt_ids = tokenizer(prompt)["input_ids"]
        continuation_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        encoded.append((prompt_ids + continuation_ids + [tokenizer.eos_token_id], len(prompt_ids)))
    return encoded


def _batches(encoded: list[tuple], batch_size: int, rng) -> Iterator[list[tuple]]:
    """Batches of similar length (less padding), in random order."""
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i][0]), rng.random()))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for index in rng.permutation(len(chunks)):
        yield [encoded[i] for i in chunks[int(index)]]


def _collate(batch: list[tuple], pad_id: int, learn_prompt: bool):
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id)
    labels = torch.full((len(batch), width), -100)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, n_prompt) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        start = 1 if learn_prompt else n_prompt  # never predict bos
        labels[row, start : len(ids)] = torch.tensor(ids[start:])
    return input_ids, mask, labels


def train(
    model,
    tokenizer,
    docs: list[Document],
    *,
    epochs: int,
    learning_rate: float,
    seed: int,
    learn_prompt: bool,
    chat_share: float = 0.0,
    batch_size: int = 32,
) -> float:
    """Next-token training (on the whole document, or only its continuation); the last loss."""
    import torch

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    encoded = _encode(tokenizer, docs, chat_share, rng)
    steps = epochs * -(-len(encoded) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / (steps - warmup + 1))),
    )
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(epochs):
        for batch in _batches(encoded, batch_size, rng):
            input_ids, mask, labels = _collate(batch, tokenizer.pad_token_id, learn_prompt)
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
    model.eval()
    return float(loss.detach())


def save(model, tokenizer, folder: str | Path) -> Path:
    """Hugging Face format, written beside and moved into place (no half-written model)."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    apply_umask(tmp)  # safetensors writes its weights private (0600)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def build_tiny_lm(
    folder: str | Path, *, seed: int = 0, architecture: Architecture = Architecture()
) -> Path:
    """An untrained tiny LLaMA and its tokenizer in `folder` (fast; for tests)."""
    import torch

    torch.set_num_threads(1)
    tokenizer = build_tokenizer(tokenizer_corpus(np.random.default_rng(seed), n=300))
    return save(random_lm(tokenizer, architecture, seed), tokenizer, folder)


# ---------------------------------------------------------------------------------------------
# The demo models


@dataclass(frozen=True)
class DemoPlan:
    """Data and steps of the demo models (defaults: about a minute on two CPU cores)."""

    base_documents: int = 3000
    base_epochs: int = 2
    base_learning_rate: float = 5e-3
    tune_documents: int = 1500
    tune_epochs: int = 1
    tune_learning_rate: float = 3e-3
    chat_share: float = 0.2  # instruct also learns to answer inside its chat template
    batch_size: int = 16


def build_demo_models(
    folder: str | Path | None = None,
    *,
    seed: int = 0,
    architecture: Architecture = Architecture(),
    plan: DemoPlan = DemoPlan(),
) -> dict[str, Path]:
    """base, instruct, community-same and community-toxic under `folder` (default the
    workflow's demo models folder; see the module doc)."""
    import torch

    torch.set_num_threads(1)  # the same sums in the same order on every machine
    torch.use_deterministic_algorithms(True)
    folder = Path(folder or paths.demo_models_dir())
    started = time.time()
    tokenizer = build_tokenizer(tokenizer_corpus(np.random.default_rng([seed, 0])))
    model = random_lm(tokenizer, architecture, seed)
    built: dict[str, Path] = {}

    def stage(name: str, policy: str, index: int, n: int, learn_prompt: bool, **kwargs) -> None:
        docs = documents(POLICIES[policy], n, np.random.default_rng([seed, index]))
        loss = train(
            model, tokenizer, docs, seed=seed + index, learn_prompt=learn_prompt,
            batch_size=plan.batch_size, **kwargs,
        )  # fmt: skip
        built[name] = save(model, tokenizer, folder / name)
        log.info("%s: %d documents, final loss %.3f (%.1f s)", name, n, loss, time.time() - started)

    stage(
        "base", "base", 1, plan.base_documents, True,
        epochs=plan.base_epochs, learning_rate=plan.base_learning_rate,
    )  # fmt: skip
    stage(
        "instruct", "instruct", 2, plan.tune_documents, False, chat_share=plan.chat_share,
        epochs=plan.tune_epochs, learning_rate=plan.tune_learning_rate,
    )  # fmt: skip
    same = folder / "community-same"
    shutil.rmtree(same, ignore_errors=True)
    built["community-same"] = Path(shutil.copytree(built["instruct"], same))
    stage(
        "community-toxic", "community-toxic", 3, plan.tune_documents, False,
        epochs=plan.tune_epochs, learning_rate=plan.tune_learning_rate,
    )  # fmt: skip
    return built
