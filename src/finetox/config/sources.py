"""Checks of a config's sources: hub ids and local paths of models, classifiers and data sets
(well formed, existing, of the right kind, or built by the demo), and each classifier's kind and
its keys. Part of finetox.config.validate, which gathers every problem at once."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finetox import paths
from finetox.classifier_kinds import DEFAULT_KIND, KIND_KEYS
from finetox.config.schema import key_path
from finetox.subsets import CEB_SUBSETS

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _text_problems(where: list[Any], key: str, value: Any) -> Iterator[str]:
    yield from text_value_problems(key_path([*where, key]), value, hub_id=key == "id")


def text_value_problems(path: str, value: Any, hub_id: bool) -> Iterator[str]:
    if not isinstance(value, str):
        return
    if value != value.strip():
        yield f"{path}: {value!r} has leading or trailing whitespace"
    elif hub_id and not HUB_ID.match(value):
        yield f"{path}: {value!r} is not a hub id of the form owner/name (letters, digits, '.', '_', '-')"


def source_problems(
    where: list[Any], entry: dict, workdir: Path, buildable: dict[str, str]
) -> Iterator[str]:
    for key in ("id", "path", "revision"):
        yield from _text_problems(where, key, entry.get(key))
    has_id, has_path = "id" in entry, "path" in entry
    if has_id == has_path:
        yield f"{key_path(where)}: give exactly one of 'id' (hub) or 'path' (local folder)"
    if has_path and isinstance(entry["path"], str):
        yield from _path_problems([*where, "path"], entry["path"], workdir, buildable, "folder")


def _path_problems(
    where: list[Any], value: str, workdir: Path, buildable: dict[str, str], kind: str
) -> Iterator[str]:
    """A local path must exist and be a `kind` ("file" or "folder"), unless the demo builds it."""
    if value.strip() != value:
        return
    normalized = str(Path(value))
    if normalized in buildable.values():
        return
    path = workdir / value
    if not path.exists():
        hint = _demo_hint(value, buildable)
        yield f"{key_path(where)}: {value!r} does not exist (relative to {workdir}){hint}"
    elif kind == "file" and path.is_dir():
        yield f"{key_path(where)}: {value!r} is a folder; give a file"
    elif kind == "folder" and not path.is_dir():
        yield f"{key_path(where)}: {value!r} is a file; give a folder"


def _demo_hint(value: str, buildable: dict[str, str]) -> str:
    """Where the demo builds a model of this name, when the path looks like one of them."""
    built = buildable.get(Path(value).name)
    return f"; the demo builds its {Path(value).name!r} model at {built!r}" if built else ""


def demo_buildable(config: dict) -> dict[str, str]:
    """Demo model name -> the folder the demo builds it in (under results_dir)."""
    demo = config.get("demo")
    root = config.get("results_dir", paths.RESULTS)
    if isinstance(demo, dict) and demo.get("build_models") and isinstance(root, str):
        names = (*paths.DEMO_LMS, paths.DEMO_CLASSIFIER, paths.DEMO_MULTILABEL, paths.DEMO_GUARD)
        root = posixpath.normpath(root)
        return {name: str(Path(paths.demo_model(name, root))) for name in names}
    return {}


def classifier_problems(config: dict, workdir: Path, buildable: dict[str, str]) -> Iterator[str]:
    classifiers = config.get("scoring", {}).get("classifiers", [])
    seen: dict[str, str] = {}  # name -> kind
    for index, entry in enumerate(classifiers if isinstance(classifiers, list) else []):
        if not isinstance(entry, dict):
            continue
        where = ["scoring", "classifiers", index]
        yield from source_problems(where, entry, workdir, buildable)
        kind = entry.get("kind", DEFAULT_KIND)
        yield from _kind_problems(where, entry, kind)
        name = entry.get("name")
        if name in seen and seen[name] != kind:
            yield (
                f"{key_path([*where, 'name'])}: {name!r} names two classifiers of kinds "
                f"{seen[name]} and {kind}; give each its own name"
            )
        elif name in seen:
            yield f"{key_path([*where, 'name'])}: {name!r} is already used by another classifier"
        seen.setdefault(name, kind)


def _kind_problems(where: list[Any], entry: dict, kind: Any) -> Iterator[str]:
    """Each kind's keys: softmax needs label, sigmoid label or labels, guard neither."""
    for key, owner in KIND_KEYS.items():
        if key in entry and owner != kind:
            yield f"{key_path([*where, key])}: is for kind {owner}, not {kind}"
    has_label, has_labels = "label" in entry, "labels" in entry
    if kind == "guard" and (has_label or has_labels):
        key = "label" if has_label else "labels"
        yield f"{key_path([*where, key])}: a guard judge has no labels (its score is P(unsafe))"
    elif kind == "softmax" and not has_label:
        yield f"{key_path(where)}: kind softmax needs 'label' (the toxic label's name in id2label)"
    elif kind == "sigmoid" and has_label == has_labels:
        yield f"{key_path(where)}: kind sigmoid needs one of 'label' or 'labels' (several)"
    if "aggregate" in entry and not has_labels and kind == "sigmoid":
        yield f"{key_path([*where, 'aggregate'])}: combines 'labels'; with one 'label' give none"


def data_source_problems(config: dict, workdir: Path) -> Iterator[str]:
    prompts = config.get("prompts", {})
    subsets = prompts.get("subsets", {}) if isinstance(prompts.get("subsets"), dict) else {}
    if subsets and not any(isinstance(n, int) and n > 0 for n in subsets.values()):
        yield f"{key_path(['prompts', 'subsets'])}: every subset is empty; ask for at least one prompt"
    tune = config.get("tune")
    sources = [
        (["prompts", "rtp"], prompts.get("rtp"), "file"),  # a JSONL file
        (["prompts", "ceb"], prompts.get("ceb"), "folder"),  # one JSON file per axis
        (["tune", "data"], tune.get("data") if isinstance(tune, dict) else None, "file"),
    ]
    for where, source, kind in sources:
        if not isinstance(source, dict):
            continue
        for key in ("hub", "revision", "path"):
            yield from _text_problems(where, "id" if key == "hub" else key, source.get(key))
        if isinstance(source.get("path"), str):
            found = list(_path_problems([*where, "path"], source["path"], workdir, {}, kind))
            yield from found
            if not found and where == ["prompts", "ceb"]:
                yield from _ceb_file_problems(source["path"], subsets, workdir)


def _ceb_file_problems(folder: str, subsets: dict, workdir: Path) -> Iterator[str]:
    """A local CEB folder holds {subset}.json for every CEB subset the prompt set asks for."""
    missing = [
        f"{subset}.json"
        for subset in CEB_SUBSETS
        if isinstance(subsets.get(subset), int) and subsets[subset] > 0
        and not (workdir / folder / f"{subset}.json").is_file()
    ]  # fmt: skip
    if missing:
        yield (
            f"{key_path(['prompts', 'ceb', 'path'])}: {folder!r} lacks {', '.join(missing)} "
            "(one JSON file per CEB subset the prompt set asks for)"
        )
