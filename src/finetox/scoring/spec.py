"""A configured classifier: where it comes from, its kind, and what its score means.

Three kinds (docs/classifiers.md says what each measures):
- softmax: a single-label sequence classifier; the score is P(label) from the softmax over its
  labels (the paper's RoBERTa);
- sigmoid: a multi-label sequence classifier (Detoxify); the score is the sigmoid of one label's
  logit, or the largest of several labels' (`labels`, `aggregate: max`);
- guard: a generative safety judge (Llama Guard 3); the score is the probability of the first
  token of "unsafe" after the judge's chat template and `guard_prefix`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetox.classifier_kinds import DEFAULT_KIND, KIND_KEYS, KINDS
from finetox.io import UserError
from finetox.scores_file import DEFAULT_THRESHOLD

DEFAULT_LABEL = "hate"  # the paper's classifier's toxic label
AGGREGATES = ("max",)
DEFAULT_GUARD_PREFIX = "\n\n"  # Llama Guard 3 writes a blank line before its verdict


class ClassifierError(UserError):
    """A classifier that cannot score as configured (missing label, cannot load, wrong kind)."""


@dataclass(frozen=True)
class ClassifierSpec:
    """One configured classifier: `source` is a hub id or a local folder. `labels` (sigmoid) are
    the toxic labels whose largest score is the classifier's score; `label` alone means one."""

    name: str
    source: str
    label: str = DEFAULT_LABEL
    threshold: float = DEFAULT_THRESHOLD
    revision: str | None = None
    kind: str = DEFAULT_KIND
    labels: tuple[str, ...] = field(default=())
    aggregate: str = "max"
    keep_all_labels: bool = False
    guard_prefix: str = DEFAULT_GUARD_PREFIX
    guard_normalize: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ClassifierError(
                f"classifier {self.name}: unknown kind {self.kind!r}; kinds are {', '.join(KINDS)}"
            )
        if self.aggregate not in AGGREGATES:
            raise ClassifierError(
                f"classifier {self.name}: unknown aggregate {self.aggregate!r}; "
                f"aggregates are {', '.join(AGGREGATES)}"
            )
        if self.labels and self.kind != "sigmoid":
            raise ClassifierError(
                f"classifier {self.name}: 'labels' is for kind sigmoid, not {self.kind}; "
                "name the one toxic label with 'label'"
            )
        object.__setattr__(self, "labels", tuple(self.labels))

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> ClassifierSpec:
        """From one `scoring.classifiers` entry; keys it does not set keep their defaults."""
        kind = entry.get("kind", DEFAULT_KIND)
        for key, owner in KIND_KEYS.items():
            if key in entry and owner != kind:
                raise ClassifierError(
                    f"classifier {entry.get('name')}: {key!r} is for kind {owner}, not {kind}"
                )
        if kind == "guard" and ("label" in entry or "labels" in entry):
            raise ClassifierError(
                f"classifier {entry.get('name')}: a guard judge has no labels; its score is "
                "P(unsafe)"
            )
        if "labels" in entry and "label" in entry:
            raise ClassifierError(
                f"classifier {entry.get('name')}: give 'label' (one) or 'labels' (several), not both"
            )
        optional = {key: entry[key] for key in KIND_KEYS if key in entry}
        if "labels" in optional:
            optional["labels"] = tuple(optional["labels"])
        return cls(
            name=entry["name"],
            source=entry.get("path") or entry["id"],
            label=entry.get("label", DEFAULT_LABEL),
            threshold=float(entry.get("threshold", DEFAULT_THRESHOLD)),
            revision=entry.get("revision"),
            kind=kind,
            **optional,
        )

    @property
    def who(self) -> str:
        """How an error names this classifier: its name, and where it comes from."""
        return self.name if self.name == self.source else f"{self.name} ({self.source})"

    @property
    def toxic_labels(self) -> tuple[str, ...]:
        """The labels whose score is the classifier's (sequence classifiers)."""
        return self.labels or (self.label,)

    def record(self) -> dict[str, Any]:
        """What a scores file's metadata says about this classifier. A softmax classifier is
        recorded as before kinds existed (no `kind`: a record without one is softmax), so the
        paper's scores files stay byte for byte what they were."""
        base: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.kind == "softmax":
            return {**base, "label": self.label, "threshold": self.threshold}
        if self.kind == "guard":
            guard = {"guard_prefix": self.guard_prefix, "guard_normalize": self.guard_normalize}
            return {**base, "kind": "guard", "threshold": self.threshold, **guard}
        if self.labels:
            labels = {"labels": list(self.labels), "aggregate": self.aggregate}
        else:
            labels = {"label": self.label}
        kept = {"keep_all_labels": self.keep_all_labels}
        return {**base, "kind": "sigmoid", **labels, "threshold": self.threshold, **kept}


def default_name(source: str) -> str:
    """A column-safe classifier name from a hub id or folder: its last part, as a slug."""
    last = Path(source.rstrip("/")).name.lower()
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9._-]+", "_", last)).strip("-_.")
    return name or "classifier"
