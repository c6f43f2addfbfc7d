"""The config reference (Markdown), generated from the schema so the docs cannot drift from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finetox.config.schema import load_schema, object_properties, resolve
from finetox.errors import UserError

REFERENCE_START = "<!-- config-reference:start -->"
REFERENCE_END = "<!-- config-reference:end -->"


def config_reference(schema: dict | None = None) -> str:
    """A Markdown table of every config key: type, default, description."""
    schema = schema or load_schema()
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for path, kind, default, description in _reference_rows(schema, schema, ""):
        lines.append(f"| `{path}` | {kind} | {default} | {description} |")
    return "\n".join(lines) + "\n"


def update_reference(path: str | Path) -> None:
    """Replace the text between the reference markers of `path` with the current reference."""
    path = Path(path)
    text = path.read_text()
    if REFERENCE_START not in text or REFERENCE_END not in text:
        raise UserError(f"{path}: no {REFERENCE_START} ... {REFERENCE_END} markers")
    head, rest = text.split(REFERENCE_START, 1)
    tail = rest.split(REFERENCE_END, 1)[1]
    path.write_text(f"{head}{REFERENCE_START}\n{config_reference()}{REFERENCE_END}{tail}")


def _type_name(schema: dict, root: dict) -> str:
    schema = resolve(schema, root)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_type_name(part, root) for part in schema[key])
    if "allOf" in schema and "type" not in schema:
        return " and ".join(_type_name(part, root) for part in schema["allOf"])
    if "const" in schema:
        return repr(schema["const"]).replace("'", "")
    if "enum" in schema:
        return " \\| ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"list of {_type_name(schema['items'], root)}"
    return kind


def _description(sub: dict, resolved: dict, root: dict) -> str:
    inherited = [resolve(part, root).get("description") for part in sub.get("allOf", [])]
    text = (
        sub.get("description")
        or resolved.get("description")
        or next((text for text in inherited if text), "")
    )
    return " ".join(str(text).split())


def _reference_rows(
    schema: dict, root: dict, prefix: str, seen: dict[str, str] | None = None
) -> Iterator[tuple[str, str, str, str]]:
    """(key path, type, default, description); a shared definition is expanded once."""
    seen = {} if seen is None else seen
    for key, sub in object_properties(schema, root).items():
        path = f"{prefix}.{key}" if prefix else key
        resolved = resolve(sub, root)
        ref = sub.get("$ref")
        if ref and ref in seen and object_properties(resolved, root):
            yield path, "object", "", f"same keys as `{seen[ref]}`"
            continue
        if ref:
            seen[ref] = path
        default = sub.get("default", resolved.get("default", ""))
        nested = object_properties(resolved, root)
        shown_default = "" if nested and default == {} else _json_default(default)
        yield path, _type_name(sub, root), shown_default, _description(sub, resolved, root)
        if nested:
            yield from _reference_rows(resolved, root, path, seen)
        yield from _contained_rows(resolved, root, path, seen)


def _contained_rows(
    resolved: dict, root: dict, path: str, seen: dict[str, str]
) -> Iterator[tuple[str, str, str, str]]:
    """Rows of the objects a mapping's values (NAME), a list's items or a choice's object form
    (a hub id or a mapping) hold."""
    for part in resolved.get("oneOf", []):
        if object_properties(part, root):
            yield from _reference_rows(part, root, path, seen)
    extra = resolved.get("additionalProperties")
    if isinstance(extra, dict) and object_properties(extra, root):
        yield from _reference_rows(extra, root, f"{path}.NAME", seen)
    items = resolved.get("items")
    if isinstance(items, dict) and object_properties(items, root):
        ref = items.get("$ref")
        if ref and ref in seen:
            yield f"{path}[]", "object", "", f"same keys as `{seen[ref]}`"
            return
        if ref:
            seen[ref] = f"{path}[]"
        yield from _reference_rows(items, root, f"{path}[]", seen)


def _json_default(value: Any) -> str:
    return "" if value == "" else f"`{json.dumps(value)}`"
