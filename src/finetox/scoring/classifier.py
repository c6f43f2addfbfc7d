"""Sequence classifiers (kinds softmax and sigmoid): a configured classifier (hub id or folder)
loaded once, ready to give the probability of its toxic label(s). The function applied to the
logits is the kind's, set explicitly: a text-classification pipeline that chose it from the
config once applied a softmax to a multi-label model (detoxify#15)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

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
from finetox.scoring.spec import ClassifierError, ClassifierSpec

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


@dataclass
class Classifier:
    """A loaded sequence classifier. `columns` are the label indices it scores, in that order:
    its toxic labels (`label_indices`), or every label with keep_all_labels."""

    spec: ClassifierSpec
    model: Any
    tokenizer: Any
    label_indices: tuple[int, ...]
    activation: str  # "softmax" or "sigmoid": the kind's function, never inferred
    max_length: int
    commit: str | None = None  # the hub commit loaded, or sha256: and the folder's content hash
    columns: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.columns = self.columns or self.label_indices

    @property
    def label_index(self) -> int:
        return self.label_indices[0]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def column_labels(self) -> list[str]:
        """The label name of each column."""
        id2label = self.model.config.id2label
        return [id2label[index] for index in self.columns]

    def toxic_score(self, probabilities: np.ndarray) -> np.ndarray:
        """The classifier's score from its columns' probabilities: the toxic label's, or the
        largest of its toxic labels' (aggregate: max)."""
        positions = [self.columns.index(index) for index in self.label_indices]
        if len(positions) == 1:
            return probabilities[:, positions[0]]
        return probabilities[:, positions].max(axis=1)


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


def is_multi_label(config: Any) -> bool:
    """Whether a classifier's config declares independent labels (a sigmoid per label): its
    problem_type, the text-classification pipeline's function_to_apply, or one output."""
    return (
        getattr(config, "problem_type", None) == "multi_label_classification"
        or getattr(config, "function_to_apply", None) == "sigmoid"
        or config.num_labels == 1
    )


def check_kind(config: Any, spec: ClassifierSpec) -> None:
    """That the model can be read as the configured kind: no regression head, no softmax over a
    multi-label model (detoxify#15) or over one output (always 1), no sigmoid over the labels
    of a single-label model."""
    problem = getattr(config, "problem_type", None)
    if problem == "regression":
        raise ClassifierError(
            f"classifier {spec.who}: is a regression model; a toxicity classifier needs labels"
        )
    if spec.kind == "softmax" and config.num_labels == 1:
        raise ClassifierError(
            f"classifier {spec.who}: has one output, whose softmax is always 1; set kind: sigmoid"
        )
    if spec.kind == "softmax" and is_multi_label(config):
        raise ClassifierError(
            f"classifier {spec.who}: is a multi-label model (problem_type {problem}, "
            f"function_to_apply {getattr(config, 'function_to_apply', None)}); a softmax over "
            "independent labels is wrong (detoxify#15): set kind: sigmoid"
        )
    if spec.kind == "sigmoid" and not is_multi_label(config):
        raise ClassifierError(
            f"classifier {spec.who}: is a single-label model ({config.num_labels} labels, "
            f"problem_type {problem}); a sigmoid label needs a multi-label model "
            "(problem_type multi_label_classification): set kind: softmax"
        )


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


def checked_config(spec: ClassifierSpec) -> tuple[Any, tuple[int, ...]]:
    """A sequence classifier's config, checked against the spec's kind and labels before any
    weights load, and the indices of its toxic labels."""
    from transformers import AutoConfig

    check_model_folder(spec.source, what="classifier")
    try:
        config = AutoConfig.from_pretrained(spec.source, **hub_kwargs(spec.revision))
    except OSError as error:
        raise ClassifierError(
            f"classifier {spec.name}: cannot load {spec.source}: {error}"
        ) from error
    check_kind(config, spec)
    indices = tuple(
        toxic_label_index(config.id2label, label, spec.who) for label in spec.toxic_labels
    )
    return config, indices


def load_classifier(
    spec: ClassifierSpec, *, dtype: str = "auto", on: torch.device | None = None
) -> Classifier:
    """Load a sequence classifier from the hub (revision, token from the environment) or a
    folder, checked against its kind and labels before its weights load."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if spec.kind not in ("softmax", "sigmoid"):
        raise ClassifierError(
            f"classifier {spec.who}: kind {spec.kind} is not a sequence classifier"
        )
    config, indices = checked_config(spec)
    on = on or device()
    torch_dtype = resolve_dtype(dtype, on, gpu_auto="float16")
    load_at, commit = pin(spec.source, spec.revision, slug=spec.name)
    kwargs = hub_kwargs(load_at)
    log.info(
        "loading classifier %s (%s): %s as %s",
        spec.name,
        spec.kind,
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
    every = tuple(sorted(int(index) for index in config.id2label))
    return Classifier(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        label_indices=indices,
        activation=spec.kind,
        max_length=max_input_length(tokenizer, model.config),
        commit=resolved_commit(spec.source, model),
        columns=every if spec.keep_all_labels else indices,
    )
