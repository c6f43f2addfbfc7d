"""Reading a YAML config file strictly: a key written twice in one mapping is an error with both
line numbers (PyYAML would keep the last one in silence), and a syntax error names the file, the
line and the column in one line.

Only PyYAML is imported here, so the Snakefile can check the config files it is given early.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """Problems of one YAML file, one line each, file first."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def key_path(parts: Iterable[Any]) -> str:
    """families.gemma-2b.community[1].id"""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def read_yaml(path: str | Path) -> Any:
    """The document of a YAML file; YamlFileError for duplicate keys, bad syntax or no file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise YamlFileError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise YamlFileError([f"{path}: is a folder, not a YAML file"]) from None
    except UnicodeDecodeError as error:
        raise YamlFileError([f"{path}: not UTF-8 text ({error.reason})"]) from None
    return parse_yaml(text, str(path))


def exit_on_bad_yaml(path: str | Path) -> None:
    """For the Snakefile, before Snakemake reads a config file itself (and says neither file
    nor line of a syntax error, and keeps the last of a key written twice): print each problem
    as one 'config error:' line and exit 1."""
    try:
        read_yaml(path)
    except YamlFileError as error:
        print("\n".join(f"config error: {problem}" for problem in error.problems), file=sys.stderr)
        raise SystemExit(1) from None


def parse_yaml(text: str, name: str = "<string>") -> Any:
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            duplicates = list(_duplicate_keys(node, []))
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        raise YamlFileError([f"{name}: {_describe(error)}"]) from None
    except yaml.YAMLError as error:
        raise YamlFileError([f"{name}: not valid YAML: {' '.join(str(error).split())}"]) from None
    if duplicates:
        raise YamlFileError(f"{name}: {problem}" for problem in duplicates)
    return document


def _describe(error: yaml.MarkedYAMLError) -> str:
    """'line 3, column 9: expected ',' or '}', but got ':' (while parsing a flow mapping that
    starts at line 2)'; lines and columns count from 1."""
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    text = f"{where}{error.problem or error.context or 'not valid YAML'}"
    if error.context and error.problem and error.context_mark:
        text += f" ({error.context} that starts at line {error.context_mark.line + 1})"
    return " ".join(text.split())


def _scalar_key(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _duplicate_keys(node: yaml.Node | None, where: list[Any], seen=None) -> Iterator[str]:
    """'families.llama2: key written twice (lines 12 and 40)' for every repeated key."""
    seen = set() if seen is None else seen
    if node is None or id(node) in seen:  # an anchor's node is checked once
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            if key is not None and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key in lines:
                    yield (
                        f"{key_path([*where, key])}: key written twice "
                        f"(lines {lines[key]} and {line})"
                    )
                else:
                    lines[key] = line
            yield from _duplicate_keys(value_node, [*where, key if key is not None else "?"], seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, [*where, index], seen)
