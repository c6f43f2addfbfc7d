"""The demo's toxicity classifier: a tiny RoBERTa that detects the synthetic lexicon.

Shaped like facebook/roberta-hate-speech-dynabench-r4-target (RobertaForSequenceClassification,
labels {0: nothate, 1: hate}, a byte-level BPE tokenizer with RoBERTa's special tokens), but small,
with a tokenizer trained here with `tokenizers` and weights trained briefly on synthetic text: a text
is `hate` exactly when it contains a LEXICON word. The training text mixes what the demo's language
models will write: whole sentences, mixed paragraphs, fragments cut anywhere, loose word strings and
empty text. The build checks its accuracy on held-out text and records it beside the weights.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finetox.demo.synthetic import (
    ADJECTIVES,
    CEB_DESCRIPTORS,
    CLAUSES,
    LEXICON,
    OBJECTS,
    SUBJECTS,
    TOXIC_TEMPLATES,
    VERBS,
    clean_sentence,
    toxic_sentence,
)
from finetox.io import UserError, apply_umask

log = logging.getLogger("finetox.demo")

LABELS = {0: "nothate", 1: "hate"}
RECORD = "finetox_classifier.json"
MAX_LENGTH = 128  # tokens; the demo generations are at most 50 new tokens
MIN_ACCURACY = 0.95
CLEAN_WORDS = sorted(
    {
        word
        for phrase in (*SUBJECTS, *VERBS, *OBJECTS, *CLAUSES, *ADJECTIVES)
        for word in phrase.split()
    }
    | {word for descriptors in CEB_DESCRIPTORS.values() for d in descriptors for word in d.split()}
)
_LEXICON = frozenset(LEXICON)
_PUNCTUATION = ".,;:!?\"'()"


def is_toxic(text: str) -> bool:
    """The demo's ground truth: the text uses a lexicon word."""
    return any(word.strip(_PUNCTUATION).lower() in _LEXICON for word in text.split())


def _decoy_sentence(rng: np.random.Generator) -> str:
    """A toxic template filled with clean words: not toxic, so that the classifier learns the
    lexicon rather than the phrasing around it."""
    template = TOXIC_TEMPLATES[int(rng.integers(len(TOXIC_TEMPLATES)))]
    w1, w2 = (ADJECTIVES[i] for i in rng.choice(len(ADJECTIVES), size=2, replace=False))
    subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    return template.replace("trash", "friend").format(subject=subject, w1=w1, w2=w2) + " ."


def _sentence(rng: np.random.Generator, toxic_share: float) -> str:
    if rng.random() < toxic_share:
        return toxic_sentence(rng)
    return _decoy_sentence(rng) if rng.random() < 0.25 else clean_sentence(rng)


def _paragraph(rng: np.random.Generator) -> str:
    share = float(rng.choice([0.0, 0.2, 0.5]))
    return " ".join(_sentence(rng, share) for _ in range(int(rng.integers(1, 5))))


def _fragment(rng: np.random.Generator) -> str:
    words = _paragraph(rng).split()
    start = int(rng.integers(len(words)))
    return " ".join(words[start : start + int(rng.integers(1, 26))])


def _loose_words(rng: np.random.Generator) -> str:
    words = [CLEAN_WORDS[i] for i in rng.integers(len(CLEAN_WORDS), size=int(rng.integers(1, 21)))]
    for _ in range(int(rng.choice(3, p=[0.5, 0.3, 0.2]))):
        words.insert(int(rng.integers(len(words) + 1)), LEXICON[int(rng.integers(len(LEXICON)))])
    return " ".join(words)


def synthetic_text(rng: np.random.Generator) -> str:
    """One text of the kinds the demo models write."""
    kind = rng.random()
    if kind < 0.25:
        text = _sentence(rng, 0.5)
    elif kind < 0.45:
        text = _paragraph(rng)
    elif kind < 0.75:
        text = _fragment(rng)
    elif kind < 0.97:
        text = _loose_words(rng)
    else:
        return str(rng.choice(["", " ", "\n", " .", "."]))
    if rng.random() < 0.2:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.5:
        text = " " + text  # continuations usually start with a space
    return text


def labelled_texts(rng: np.random.Generator, n: int) -> tuple[list[str], list[int]]:
    texts = [synthetic_text(rng) for _ in range(n)]
    return texts, [int(is_toxic(text)) for text in texts]


def train_tokenizer(rng: np.random.Generator, vocab_size: int = 1000):
    """A RoBERTa tokenizer (byte-level BPE, <s> <pad> </s> <unk> <mask> = 0..4) trained here.
    Unlike RoBERTa's it adds a prefix space, so a word reads the same at the start of a text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import RobertaTokenizer

    corpus = [synthetic_text(rng) for _ in range(3000)] + [" ".join(CLEAN_WORDS + list(LEXICON))]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return RobertaTokenizer(
        vocab=model["vocab"], merges=merges, add_prefix_space=True, model_max_length=MAX_LENGTH
    )


def roberta_config(vocab_size: int, max_length: int, labels: dict[int, str] = LABELS, **sizes):
    """A RoBERTa classifier config with this tokenizer's special ids and the demo's labels;
    `sizes` are RobertaConfig's (hidden_size, num_hidden_layers, problem_type, ...)."""
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=vocab_size,
        max_position_embeddings=max_length + 2,  # RoBERTa positions start after the pad id (1)
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        id2label=labels,
        label2id={name: index for index, name in labels.items()},
        **sizes,
    )


def tiny_roberta(vocab_size: int):
    from transformers import RobertaForSequenceClassification

    config = roberta_config(
        vocab_size, MAX_LENGTH,
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
    )  # fmt: skip
    return RobertaForSequenceClassification(config)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's thread count set to `threads` for the block, and restored after it (a test
    process would otherwise keep running on the demo's one thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_one_epoch(
    model, tokenizer, texts: list[str], targets: list, order_seed: list[int]
) -> None:
    """One epoch of AdamW in batches of 32, shuffled by `order_seed`; the model's own loss for its
    problem type (class ids: cross-entropy; per-label 0/1 floats: binary cross-entropy). A plain
    loop: importing the Trainer alone takes longer than this training on a small shared machine."""
    order = np.random.default_rng(order_seed).permutation(len(texts))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    model.train()
    for start in range(0, len(order), 32):
        batch = order[start : start + 32]
        inputs = tokenizer(
            [texts[i] for i in batch],
            truncation=True,
            max_length=MAX_LENGTH,
            padding=True,
            return_tensors="pt",
        )
        loss = model(**inputs, labels=torch.tensor([targets[i] for i in batch])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def heldout_accuracy(folder: str | os.PathLike, seed: int, n: int = 1000) -> float:
    """Accuracy (score > 0.5) on fresh synthetic text, scored by the scoring stage's own code."""
    from finetox.scoring import ClassifierSpec, load_classifier, score_texts

    texts, labels = labelled_texts(np.random.default_rng([seed, 3]), n)
    classifier = load_classifier(
        ClassifierSpec(name="demo", source=str(folder)), on=torch.device("cpu")
    )
    scores = score_texts(classifier, texts, progress=False)
    return float(np.mean((scores > 0.5) == np.array(labels, dtype=bool)))


def built_atomically(
    out: Path, write: Callable[[Path], dict[str, Any]], min_accuracy: float, what: str
) -> dict[str, Any]:
    """Save a demo model through `write` (which saves into the folder it is given and returns
    the build's record, with its held-out accuracy) into a private folder beside `out`; record
    it there and move it into place only when the accuracy reaches `min_accuracy`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        record = write(building)
        if record["heldout_accuracy"] < min_accuracy:
            raise RuntimeError(
                f"{what} reached only {record['heldout_accuracy']:.3f} held-out accuracy "
                f"(needs {min_accuracy}); not saved"
            )
        (building / RECORD).write_text(json.dumps(record, indent=2) + "\n")
        apply_umask(building)  # mkdtemp made it private (0700), safetensors its weights (0600)
        os.replace(building, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return record


def build_demo_classifier(
    out: str | os.PathLike, *, seed: int = 0, n_train: int = 2400, threads: int = 1
) -> dict[str, Any]:
    """Train the demo classifier and save it (Hugging Face format) to `out`, which must not exist.

    One thread by default: a model this small gains nothing from more, and loses much when the
    machine's cores are shared.
    """
    out = Path(out)
    if out.exists():
        raise UserError(f"{out}: already exists; remove it to rebuild the demo classifier")
    started = time.perf_counter()
    tokenizer = train_tokenizer(np.random.default_rng([seed, 1]))
    texts, labels = labelled_texts(np.random.default_rng([seed, 2]), n_train)
    torch.manual_seed(seed)
    model = tiny_roberta(len(tokenizer))

    def write(building: Path) -> dict[str, Any]:
        train_one_epoch(model, tokenizer, texts, labels, [seed, 4])
        model.save_pretrained(building)
        tokenizer.save_pretrained(building)
        return {
            "seed": seed,
            "n_train": n_train,
            "toxic_share_train": float(np.mean(labels)),
            "heldout_accuracy": heldout_accuracy(building, seed),
            "labels": LABELS,
            "max_length": MAX_LENGTH,
            "vocab_size": len(tokenizer),
            "build_seconds": round(time.perf_counter() - started, 1),
        }

    with torch_threads(threads):
        record = built_atomically(out, write, MIN_ACCURACY, "demo classifier")
    log.info(
        "demo classifier: held-out accuracy %.3f, %d training texts (%.0f%% hate), built in %.1f s",
        record["heldout_accuracy"],
        n_train,
        100 * record["toxic_share_train"],
        record["build_seconds"],
    )
    return record
