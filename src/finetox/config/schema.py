"""The config schema: loading it, filling its defaults, and its problems as 'key.path: problem'."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from finetox.config.yaml_file import YamlFileError, key_path, read_yaml
from finetox.errors import ConfigError

DEFAULT_SCHEMA = Path(__file__).with_name("config.schema.yaml")
# sections renamed since a config may have been written: old name -> new name
RENAMED_SECTIONS = {"lora": "tune", "estimation": "compare"}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping ({} for an empty file); ConfigError for a key written twice, bad syntax
    or a missing file, each naming the file (and the lines)."""
    try:
        data = read_yaml(path)
    except YamlFileError as error:
        raise ConfigError(error.problems) from None
    return data if isinstance(data, dict) else {}


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    return load_yaml(path or DEFAULT_SCHEMA)


def resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        return node
    return schema


def object_properties(schema: dict, root: dict) -> dict[str, dict]:
    """Properties of an object schema, merged over $ref and allOf."""
    schema = resolve(schema, root)
    properties: dict[str, dict] = {}
    for part in schema.get("allOf", []):
        for key, sub in object_properties(part, root).items():
            properties[key] = {**properties.get(key, {}), **sub}
    for key, sub in schema.get("properties", {}).items():
        properties[key] = {**properties.get(key, {}), **sub}
    return properties


def fill_defaults(instance: Any, schema: dict, root: dict | None = None) -> None:
    """Fill schema defaults into `instance` in place (objects, arrays, additionalProperties)."""
    root = root if root is not None else schema
    schema = resolve(schema, root)
    if isinstance(instance, dict):
        for key, sub in object_properties(schema, root).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                fill_defaults(instance[key], sub, root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            known = object_properties(schema, root)
            for key, value in instance.items():
                if key not in known:
                    fill_defaults(value, extra, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            fill_defaults(item, schema["items"], root)


def section_defaults(name: str) -> dict[str, Any]:
    """A config section ("tune", "compare", "generation", "scoring", ...) with every schema
    default filled in: the settings of a stage run without a study config."""
    schema = load_schema()
    if name not in schema["properties"]:
        raise KeyError(f"no config section {name!r}; sections: {', '.join(schema['properties'])}")
    section: dict[str, Any] = {}
    fill_defaults(section, schema["properties"][name], schema)
    return section


def schema_problems(config: dict, schema: dict) -> Iterator[str]:
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        yield from _describe_schema_error(error)


def _describe_schema_error(error: jsonschema.ValidationError) -> Iterator[str]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Prefer the branch whose type matched: "'chat' is not one of [...]" over "not an array".
        typed = [e for e in error.context if e.validator != "type"]
        error = best_match(typed or error.context)
    where = list(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(
        error.instance, dict
    ):
        known = sorted(_declared_keys(error.schema))
        for key in sorted(set(error.instance) - set(known)):
            yield _unknown_key(where, key, known)
        return
    yield f"{key_path(where)}: {error.message}"


def _unknown_key(where: list[Any], key: str, known: list[str]) -> str:
    if not where and key in RENAMED_SECTIONS:
        return f"{key}: renamed to '{RENAMED_SECTIONS[key]}'"
    hint = difflib.get_close_matches(key, known, n=1)
    tip = (
        f"; did you mean '{hint[0]}'?"
        if hint
        else (f"; known keys: {', '.join(known)}" if known else "")
    )
    return f"{key_path([*where, key])}: unknown key{tip}"


def _declared_keys(schema: dict) -> set[str]:
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        keys |= set(part.get("properties", {}))
    return keys
