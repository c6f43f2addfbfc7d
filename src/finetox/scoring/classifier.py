"""Toxicity classifiers: a configured classifier (hub id or folder) loaded once, ready to give
the probability of its toxic label as the text-classification pipeline does."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from finetox.io import UserError
from finetox.loading import (
    check_model_folder,
    describe_source,
    device,
    hub_errors,
    hub_kwargs,
    pin,
    resolve_dtype,
    resolved_commit,
)
from finetox.scores_file import DEFAULT_THRESHOLD

log = logging.getLogger("finetox.scoring")

# Models that number positions from padding_idx + 1, so they hold that many fewer tokens
# than max_position_embeddings.
POSITION_OFFSET_MODELS = {
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "roberta-prelayernorm",
    "camembert",
    "data2vec-text",
    "longformer",
}
NO_LIMIT = 1_000_000  # a tokenizer without a maximum length reports a huge number


class ClassifierError(UserError):
    """A classifier that cannot score as configured (missing label, cannot load, regression head)."""


@dataclass(frozen=True)
class ClassifierSpec:
    """One configured classifier: `source` is a hub id or a local folder."""

    name: str
    source: str
    label: str = "hate"
    threshold: float = DEFAULT_THRESHOLD
    revision: str | None = None

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> ClassifierSpec:
        """From one `scoring.classifiers` entry (name, id or path, revision, label, threshold)."""
        return cls(
            name=entry["name"],
            source=entry.get("path") or entry["id"],
            label=entry.get("label", "hate"),
            threshold=float(entry.get("threshold", DEFAULT_THRESHOLD)),
            revision=entry.get("revision"),
        )

    def record(self) -> dict[str, Any]:
        """What a scores file's metadata says about this classifier."""
        return {
            "name": self.name,
            "source": self.source,
            "label": self.label,
            "threshold": self.threshold,
        }


def default_name(source: str) -> str:
    """A column-safe classifier name from a hub id or folder: its last part, as a slug."""
    last = Path(source.rstrip("/")).name.lower()
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9._-]+", "_", last)).strip("-_.")
    return name or "classifier"


@dataclass
class Classifier:
    """A loaded classifier, ready to score its toxic label."""

    spec: ClassifierSpec
    model: Any
    tokenizer: Any
    label_index: int
    activation: str  # "softmax" or "sigmoid", as the text-classification pipeline chooses
    max_length: int
    commit: str | None = None  # the hub commit loaded, or sha256: and the folder's content hash

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def toxic_label_index(id2label: dict[Any, str], label: str, source: str) -> int:
    """The index of `label` in a classifier's id2label, found by name, never assumed."""
    matches = [int(index) for index, name in id2label.items() if name == label]
    found = [id2label[key] for key in sorted(id2label, key=int)]
    if not matches:
        raise ClassifierError(
            f"classifier {source}: has no label {label!r}; its labels are {found} "
            "(set the classifier's label to one of them)"
        )
    if len(matches) > 1:
        raise ClassifierError(f"classifier {source}: label {label!r} occurs twice in {found}")
    return matches[0]


def activation_for(config: Any, source: str) -> str:
    """The function the text-classification pipeline applies to this model's logits."""
    problem = getattr(config, "problem_type", None)
    if problem == "regression":
        raise ClassifierError(
            f"classifier {source}: is a regression model; a toxicity classifier needs labels"
        )
    if problem == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def max_input_length(tokenizer: Any, config: Any) -> int:
    """Tokens a text keeps: the tokenizer's maximum length (as the pipeline truncates), never
    more than the model's position embeddings hold."""
    limit = tokenizer.model_max_length
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        offset = config.pad_token_id + 1 if config.model_type in POSITION_OFFSET_MODELS else 0
        if limit >= NO_LIMIT:
            log.warning(
                "the tokenizer sets no maximum length; truncating to the model's %d positions",
                positions - offset,
            )
        limit = min(limit, positions - offset)
    if limit >= NO_LIMIT:
        raise ClassifierError("the classifier states no maximum input length")
    return int(limit)


def load_classifier(
    spec: ClassifierSpec, *, dtype: str = "auto", on: torch.device | None = None
) -> Classifier:
    """Load a sequence classifier from the hub (revision, token from the environment) or a folder."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    check_model_folder(spec.source, what="classifier")
    on = on or device()
    torch_dtype = resolve_dtype(dtype, on, gpu_auto="float16")
    load_at, commit = pin(spec.source, spec.revision, slug=spec.name)
    kwargs = hub_kwargs(load_at)
    log.info(
        "loading classifier %s: %s as %s",
        spec.name,
        describe_source(spec.source, spec.revision),
        str(torch_dtype).removeprefix("torch."),
    )
    try:
        with hub_errors(spec.source, spec.revision, slug=spec.name):
            tokenizer = AutoTokenizer.from_pretrained(spec.source, **kwargs)
            model = AutoModelForSequenceClassification.from_pretrained(
                spec.source, dtype=torch_dtype, **kwargs
            )
    except OSError as error:
        raise ClassifierError(
            f"classifier {spec.name}: cannot load {spec.source}: {error}"
        ) from error
    if commit:
        model.config._commit_hash = commit  # what resolved_commit records
    tokenizer.padding_side = "right"  # models with absolute positions need the text first
    model.to(on).eval()
    config = model.config
    return Classifier(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        label_index=toxic_label_index(config.id2label, spec.label, spec.source),
        activation=activation_for(config, spec.source),
        max_length=max_input_length(tokenizer, config),
        commit=resolved_commit(spec.source, model),
    )
