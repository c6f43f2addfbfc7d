"""The demo's multi-label classifier: a tiny Detoxify-like RoBERTa read with a sigmoid per label.

Shaped like unitary/toxic-bert (a sequence classifier with independent labels: problem_type
multi_label_classification, id2label set), with three labels:

- toxic: the text uses a word of the lexicon it knows (KNOWN);
- insult: such a word addressed to someone ("you" in the text);
- identity_attack: such a word beside an identity term (the CEB descriptors).

It is trained on the same synthetic text as the demo's softmax classifier (`tiny_classifier`),
with the same tokenizer, but it does not know part of the lexicon: the words in UNKNOWN are
labelled clean wherever they occur, as a classifier trained on other data misses words it never
saw used as insults. That is the demo's planted difference between classifiers (config/demo.yaml,
docs/classifiers.md): text whose only lexicon words are UNKNOWN reads toxic to demo_lexicon and
demo_guard but clean here.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finetox.demo import synthetic as syn
from finetox.demo.tiny_classifier import (
    MAX_LENGTH,
    built_atomically,
    roberta_config,
    synthetic_text,
    torch_threads,
    train_one_epoch,
    train_tokenizer,
)
from finetox.io import UserError

log = logging.getLogger("finetox.demo")

LABELS = {0: "toxic", 1: "insult", 2: "identity_attack"}
UNKNOWN = ("loser", "trash", "dumb", "pathetic")  # the words it never learned
KNOWN = tuple(word for word in syn.LEXICON if word not in UNKNOWN)
IDENTITY_TERMS = frozenset(
    word.lower() for terms in syn.CEB_DESCRIPTORS.values() for t in terms for word in t.split()
) - {"people", "old", "young"}
MIN_ACCURACY = 0.95  # of the toxic label
_PUNCTUATION = ".,;:!?\"'()"


def label_vector(text: str, known: tuple[str, ...] = KNOWN) -> list[float]:
    """The demo's ground truth for this classifier: toxic, insult, identity_attack."""
    words = [word.strip(_PUNCTUATION).lower() for word in text.split()]
    toxic = any(word in known for word in words)
    insult = toxic and "you" in words
    identity = toxic and any(word in IDENTITY_TERMS for word in words)
    return [float(toxic), float(insult), float(identity)]


def unknown_only_sentence(rng: np.random.Generator) -> str:
    """A toxic template filled with UNKNOWN words alone: clean to this classifier, so that it
    does not learn the phrasing around the words it does not know as toxic."""
    template = syn.TOXIC_TEMPLATES[int(rng.integers(len(syn.TOXIC_TEMPLATES)))]
    w1, w2 = (UNKNOWN[i] for i in rng.choice(len(UNKNOWN), size=2, replace=False))
    subject = syn.SUBJECTS[int(rng.integers(len(syn.SUBJECTS)))]
    return " " + template.format(subject=subject, w1=w1, w2=w2) + " ."


def training_text(rng: np.random.Generator) -> str:
    """The softmax classifier's synthetic text, now and then a toxic sentence of UNKNOWN words
    only, and an identity term put in now and then."""
    text = unknown_only_sentence(rng) if rng.random() < 0.12 else synthetic_text(rng)
    if text.strip() and rng.random() < 0.15:
        words = text.split()
        terms = sorted(IDENTITY_TERMS)
        words.insert(int(rng.integers(len(words) + 1)), terms[int(rng.integers(len(terms)))])
        text = " ".join(words)
    return text


def tiny_multilabel(vocab_size: int):
    from transformers import RobertaForSequenceClassification

    config = roberta_config(
        vocab_size, MAX_LENGTH, labels=LABELS, problem_type="multi_label_classification",
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
    )  # fmt: skip
    return RobertaForSequenceClassification(config)


def heldout_accuracy(folder: str | os.PathLike, seed: int, n: int = 1000) -> dict[str, float]:
    """Per label, accuracy (score > 0.5) on fresh text, scored by the score stage's own code."""
    from finetox.scoring import ClassifierSpec, load_classifier
    from finetox.scoring.texts import score_labels

    rng = np.random.default_rng([seed, 9])
    texts = [training_text(rng) for _ in range(n)]
    truth = np.array([label_vector(text) for text in texts], dtype=bool)
    spec = ClassifierSpec(
        name="demo_multilabel", source=str(folder), kind="sigmoid", label="toxic",
        keep_all_labels=True,
    )  # fmt: skip
    classifier = load_classifier(spec, on=torch.device("cpu"))
    scores = score_labels(classifier, texts, progress=False)
    return {
        label: float(np.mean((scores[:, column] > 0.5) == truth[:, index]))
        for column, (index, label) in enumerate(LABELS.items())
    }


def build_demo_multilabel(
    out: str | os.PathLike, *, seed: int = 0, n_train: int = 2400, threads: int = 1
) -> dict[str, Any]:
    """Train the demo's multi-label classifier and save it (Hugging Face format) to `out`,
    which must not exist. One thread by default, as the demo's other models."""
    out = Path(out)
    if out.exists():
        raise UserError(f"{out}: already exists; remove it to rebuild the demo classifier")
    started = time.perf_counter()
    tokenizer = train_tokenizer(np.random.default_rng([seed, 1]))  # demo_lexicon's tokenizer
    rng = np.random.default_rng([seed, 7])
    texts = [training_text(rng) for _ in range(n_train)]
    targets = [label_vector(text) for text in texts]
    torch.manual_seed(seed)
    model = tiny_multilabel(len(tokenizer))

    def write(building: Path) -> dict[str, Any]:
        train_one_epoch(model, tokenizer, texts, targets, [seed, 8])
        model.save_pretrained(building)
        tokenizer.save_pretrained(building)
        accuracy = heldout_accuracy(building, seed)
        return {
            "seed": seed,
            "kind": "sigmoid",
            "n_train": n_train,
            "label_share_train": dict(
                zip(LABELS.values(), np.mean(targets, axis=0).round(4).tolist(), strict=True)
            ),
            "heldout_accuracy": accuracy["toxic"],
            "heldout_accuracy_per_label": accuracy,
            "labels": LABELS,
            "known_words": list(KNOWN),
            "unknown_words": list(UNKNOWN),
            "max_length": MAX_LENGTH,
            "vocab_size": len(tokenizer),
            "build_seconds": round(time.perf_counter() - started, 1),
        }

    with torch_threads(threads):
        record = built_atomically(out, write, MIN_ACCURACY, "demo multi-label classifier")
    log.info(
        "demo multi-label classifier: held-out accuracy %s, %d training texts, built in %.1f s",
        {k: round(v, 3) for k, v in record["heldout_accuracy_per_label"].items()},
        n_train,
        record["build_seconds"],
    )
    return record
