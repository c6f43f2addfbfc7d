"""A base model's community fine-tunes from the hub's model tree, as `finetox discover` lists
them and, with --write, adds them to a family of a config.

The hub tags every model whose card names a base with `base_model:{relation}:{base id}`
(relation finetune, adapter, merge or quantized); `HfApi.list_models(filter=that tag,
sort="downloads")` lists them, most downloaded first. Left out, because finetox cannot load
them or was not asked to: a library other than transformers or peft (a GGUF file for llama.cpp,
MLX, ...; a model without library_name too), a repository tagged gguf, gptq, awq or exl2, the
quantized relation unless asked for, gated repositories unless --include-gated, and the base
itself. What is left is ordered by downloads across the relations asked (then by id), cut at
--top.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from finetox.errors import InputError

RELATIONS = ("finetune", "adapter", "merge", "quantized")
DEFAULT_RELATIONS = ("finetune", "adapter")
LOADABLE_LIBRARIES = ("transformers", "peft")
UNLOADABLE_TAGS = ("gguf", "gptq", "awq", "exl2")
EXPAND = ["downloads", "likes", "gated", "library_name", "createdAt", "tags"]
SLUG_MAX = 80  # the config schema's


@dataclass(frozen=True)
class Candidate:
    """One model of the listing, in the fields `--json` writes."""

    id: str
    relation: str
    downloads: int
    likes: int
    gated: str | bool
    library_name: str | None
    created_at: str | None
    slug: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def left_out(model: Any, relation: str, include_gated: bool) -> str | None:
    """Why finetox leaves a listed model out, or None to keep it."""
    library = getattr(model, "library_name", None)
    tags = {tag.lower() for tag in getattr(model, "tags", None) or ()}
    if library not in LOADABLE_LIBRARIES:
        return f"library {library or 'unknown'}"
    unloadable = sorted(tags.intersection(UNLOADABLE_TAGS))
    if unloadable:
        return f"tagged {unloadable[0]}"
    if getattr(model, "gated", False) and not include_gated:
        return "gated"
    return None


def discover(
    base_id: str,
    relations: tuple[str, ...] = DEFAULT_RELATIONS,
    *,
    top: int = 10,
    min_downloads: int = 0,
    include_gated: bool = False,
    exclude: set[str] = frozenset(),
    skipped: Counter | None = None,
    api: Any = None,
) -> list[Candidate]:
    """The loadable models of `base_id`'s tree, most downloaded first, at most `top`, none of
    the ids in `exclude` (those a config already lists). Each relation's listing is read only
    until it has given `top` loadable models (it comes sorted by downloads, so the overall top
    is among them) or falls under `min_downloads`. `skipped` counts why models were left out."""
    from huggingface_hub import HfApi

    from finetox.hub.resolve import hub_problem, hub_token

    unknown = [r for r in relations if r not in RELATIONS]
    if unknown:
        raise InputError(f"relation {unknown[0]!r}: use one of {', '.join(RELATIONS)}")
    api = api or HfApi()
    found: dict[str, Candidate] = {}
    for relation in dict.fromkeys(relations):
        kept = 0
        try:
            listing = api.list_models(
                filter=f"base_model:{relation}:{base_id}",
                sort="downloads",
                expand=EXPAND,
                token=hub_token(),
            )
            for model in listing:
                downloads = int(getattr(model, "downloads", 0) or 0)
                if downloads < min_downloads or kept >= top:
                    break
                if model.id == base_id or model.id in found:
                    continue
                reason = left_out(model, relation, include_gated)
                if reason is None and model.id in exclude:
                    reason = "already in the config"
                if reason:
                    if skipped is not None:
                        skipped[reason] += 1
                    continue
                found[model.id] = _candidate(model, relation, downloads)
                kept += 1
        except Exception as error:  # noqa: BLE001  (the hub's and the network's errors)
            problem = hub_problem(error, base_id, None, "model", f"relation {relation}")
            if problem is None:
                raise
            raise InputError(problem) from error
    ordered = sorted(found.values(), key=lambda c: (-c.downloads, c.id))
    return ordered[:top]


def _candidate(model: Any, relation: str, downloads: int) -> Candidate:
    created = getattr(model, "created_at", None)
    if isinstance(created, datetime):
        created = created.date().isoformat()
    return Candidate(
        id=model.id,
        relation=relation,
        downloads=downloads,
        likes=int(getattr(model, "likes", 0) or 0),
        gated=getattr(model, "gated", False) or False,
        library_name=getattr(model, "library_name", None),
        created_at=created,
    )


# ---------------------------------------------------------------------------------------------
# Slugs


def slug_of(repo_id: str) -> str:
    """A config slug from a hub id's name: lower case; anything but letters, digits, '.' and '_'
    becomes a single '-'."""
    name = repo_id.split("/")[-1].lower()
    slug = re.sub(r"[^a-z0-9._]+", "-", name).strip("-._")
    return (slug or "model")[:SLUG_MAX].rstrip("-")


def with_slugs(candidates: list[Candidate], taken: set[str]) -> list[Candidate]:
    """Each candidate with a slug no model of the config (nor an earlier candidate) has: the
    name's slug, else with -2, -3, ..."""
    named = []
    taken = set(taken)
    for candidate in candidates:
        stem = slug_of(candidate.id)
        slug, number = stem, 1
        while slug in taken:
            number += 1
            suffix = f"-{number}"
            slug = stem[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
        taken.add(slug)
        named.append(Candidate(**{**asdict(candidate), "slug": slug}))
    return named


# ---------------------------------------------------------------------------------------------
# The table


def table(candidates: list[Candidate]) -> str:
    header = ("id", "relation", "downloads", "likes", "created", "gated", "library", "slug")
    rows = [
        (c.id, c.relation, f"{c.downloads:,}", f"{c.likes:,}", c.created_at or "-",
         str(c.gated) if c.gated else "no", c.library_name or "-", c.slug)
        for c in candidates
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {2, 3}

    def line(row):
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


# ---------------------------------------------------------------------------------------------
# Writing into a config


def configured(config_path: str | Path) -> tuple[dict[str, Any], set[str], set[str]]:
    """(the config as read, every model slug it evaluates (derived ones too), every hub id)."""
    import yaml

    from finetox.config import load_study_file

    study = load_study_file(config_path)
    raw = yaml.safe_load(Path(config_path).read_text())
    ids = set()
    for spec in raw.get("families", {}).values():
        for role in ("base", "instruct"):
            if isinstance(spec.get(role), dict) and spec[role].get("id"):
                ids.add(spec[role]["id"])
        ids.update(e["id"] for e in spec.get("community") or () if e.get("id"))
    return raw, set(study.models), ids


def write_community(
    config_path: str | Path, family: str, candidates: list[Candidate]
) -> list[Candidate]:
    """Append `candidates` to `family`'s community list in the config file, as one flow mapping
    a line, keeping the rest of the file (comments, order, spacing) byte for byte; the entries
    take the family instruct model's params_b and dtype. Checks the result as a study config
    before it replaces the file. Returns what was written."""
    path = Path(config_path)
    raw, _, _ = configured(path)
    spec = raw.get("families", {}).get(family)
    if not isinstance(spec, dict):
        known = ", ".join(raw.get("families", {}))
        raise InputError(f"{path}: no family {family!r} (families: {known})")
    if not candidates:
        return []
    instruct = spec.get("instruct") or {}
    lines = [_entry(c, instruct) for c in candidates]
    text = path.read_text()
    updated = _insert_entries(text, family, lines, str(path))
    _check_written(updated, path, family, candidates)
    partial = path.with_name(path.name + ".writing")
    partial.write_text(updated)
    partial.replace(path)
    return candidates


def _entry(candidate: Candidate, instruct: dict[str, Any]) -> str:
    parts = [f"slug: {candidate.slug}", f"id: {candidate.id}"]
    for key in ("params_b", "dtype"):
        if instruct.get(key) is not None:
            parts.append(f"{key}: {instruct[key]}")
    return "{ " + ", ".join(parts) + " }"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _insert_entries(text: str, family: str, entries: list[str], where: str) -> str:
    """The text with `entries` as items of families.FAMILY.community (text-level: the file's
    other lines stay as they are)."""
    lines = text.splitlines(keepends=True)
    top = next((i for i, line in enumerate(lines) if re.match(r"^families:\s*(#.*)?$", line)), None)
    if top is None:
        raise InputError(f"{where}: no top-level 'families:' block to add to")
    end = next((i for i in range(top + 1, len(lines)) if _content(lines[i])
                and _indent(lines[i]) == 0), len(lines))  # fmt: skip
    start = next((i for i in range(top + 1, end) if _content(lines[i])
                  and re.match(rf"^\s+{re.escape(family)}:\s*(#.*)?$", lines[i])), None)  # fmt: skip
    if start is None:
        raise InputError(f"{where}: family {family!r} is not written as a block ('{family}:')")
    level = _indent(lines[start])
    stop = next((i for i in range(start + 1, end) if _content(lines[i])
                 and _indent(lines[i]) <= level), end)  # fmt: skip
    keys = [i for i in range(start + 1, stop) if _content(lines[i])]
    key_level = min((_indent(lines[i]) for i in keys), default=level + 2)
    community = next((i for i in keys if _indent(lines[i]) == key_level
                      and re.match(r"^\s+community:", lines[i])), None)  # fmt: skip
    if community is None or re.match(r"^\s+community:\s*\[\s*\]\s*(#.*)?$", lines[community]):
        block = [" " * key_level + "community:\n"]
        block += [" " * (key_level + 2) + f"- {e}\n" for e in entries]
        if community is not None:
            return "".join(lines[:community] + block + lines[community + 1 :])
        last = keys[-1] if keys else start
        if not lines[last].endswith("\n"):
            lines[last] += "\n"
        return "".join(lines[: last + 1] + block + lines[last + 1 :])
    if not re.match(r"^\s+community:\s*(#.*)?$", lines[community]):
        raise InputError(
            f"{where}: families.{family}.community is written inline; write it as a block list "
            "(one '- {...}' item a line) to add to it"
        )
    items = [i for i in range(community + 1, stop) if _content(lines[i])
             and _indent(lines[i]) > key_level]  # fmt: skip
    items_end = community
    for i in range(community + 1, stop):
        if _content(lines[i]) and _indent(lines[i]) <= key_level:
            break
        if i in items:
            items_end = i
    item_level = _indent(lines[items[0]]) if items else key_level + 2
    if not lines[items_end].endswith("\n"):
        lines[items_end] += "\n"
    block = [" " * item_level + f"- {e}\n" for e in entries]
    return "".join(lines[: items_end + 1] + block + lines[items_end + 1 :])


def _check_written(updated: str, path: Path, family: str, candidates: list[Candidate]) -> None:
    """The new text must be a valid study config whose family lists exactly the old entries
    and the new ones, in order (else nothing is written)."""
    import yaml

    from finetox.config import load_study_file
    from finetox.errors import UserError

    before = yaml.safe_load(path.read_text())["families"][family].get("community") or []
    after = yaml.safe_load(updated)["families"][family].get("community") or []
    wanted = [*[e["id"] for e in before], *[c.id for c in candidates]]
    if [e["id"] for e in after] != wanted:
        raise InputError(f"{path}: could not add the entries to families.{family}.community")
    check = path.with_name(f".{path.name}.discover-check.yaml")
    try:
        check.write_text(updated)
        load_study_file(check)
    except UserError as error:
        raise InputError(
            f"{path}: with the new entries the config fails its checks: {error}"
        ) from error
    finally:
        check.unlink(missing_ok=True)
