"""Which classifier scored each side, and that both sides were scored alike: the same score
column, classifier, label and threshold. Two files scored differently measure different things,
so comparing them is an error naming both, unless the command line makes both sides explicit
(--score-column names the column, --threshold recomputes both sides' flags)."""

from __future__ import annotations

import logging
from typing import Any

from finetox.compare.pairing import CompareError
from finetox.scores_file import Scores

log = logging.getLogger("finetox.compare")

# the classifier record's keys that must agree between A and B, with their words
IDENTITY = (("name", "classifier"), ("source", "classifier source"), ("label", "label"))


def classifier_record(scores: Scores) -> dict[str, Any]:
    """What scored one side: its score column, the classifier the file's metadata records for it
    (name, source, label, commit, when recorded), the threshold its flags rest on (None: stored
    flags of unknown origin) and where its flags came from."""
    metadata = scores.metadata
    name = metadata.get("primary") if scores.column == "score" else scores.column[len("score_") :]
    entry = next(
        (
            e
            for e in metadata.get("classifiers", [])
            if isinstance(e, dict) and e.get("name") == name
        ),
        {},
    )
    recorded = {key: entry[key] for key in ("source", "label", "commit") if key in entry}
    return {
        "column": scores.column,
        "name": name,
        **recorded,
        "threshold": scores.threshold,
        "toxic_from": scores.toxic_from,
    }


def differences(a: dict[str, Any], b: dict[str, Any], *, explicit_column: bool) -> list[str]:
    """What differs between two classifier records, in words; a value one side does not record
    (a foreign file without metadata) cannot differ. With an explicit column only the threshold
    counts: the user named what to compare."""
    found = []
    if not explicit_column:
        # `score` of a finetox file is its primary classifier's: same name, same classifier
        same_name = a["name"] is not None and a["name"] == b["name"]
        if a["column"] != b["column"] and not same_name:
            return [f"score column {a['column']!r} in A, {b['column']!r} in B"]
        for key, words in IDENTITY:
            if a.get(key) is not None and b.get(key) is not None and a[key] != b[key]:
                found.append(f"{words} {a[key]!r} in A, {b[key]!r} in B")
    if (
        a["threshold"] is not None
        and b["threshold"] is not None
        and a["threshold"] != b["threshold"]
    ):
        found.append(f"threshold {a['threshold']:g} in A, {b['threshold']:g} in B")
    return found


def check_scored_alike(a: Scores, b: Scores, *, explicit_column: bool) -> None:
    """An error naming both files when A and B were not scored alike; with --score-column, the
    classifiers' differences are logged as a warning (the user chose the column)."""
    record_a, record_b = classifier_record(a), classifier_record(b)
    found = differences(record_a, record_b, explicit_column=explicit_column)
    if found:
        raise CompareError(
            f"A ({a.path}) and B ({b.path}) were not scored alike: {', '.join(found)}; compare "
            "the scores of one classifier at one threshold (--score-column names a column both "
            "files hold, --threshold recomputes both sides' flags)"
        )
    if explicit_column:
        noted = differences(record_a, record_b, explicit_column=False)
        if noted:
            log.warning(
                "A (%s) and B (%s) differ (%s); compared anyway, as --score-column %s asks",
                a.path, b.path, ", ".join(noted), a.column,
            )  # fmt: skip


def shared_classifier(a: Scores, b: Scores) -> dict[str, Any] | None:
    """The classifier both sides share (what a model card describes), or None when they differ
    in anything but the path-independent column name."""
    record_a, record_b = classifier_record(a), classifier_record(b)
    keys = ("name", "source", "label", "threshold")
    if all(record_a.get(key) == record_b.get(key) for key in keys):
        return record_a
    return None
