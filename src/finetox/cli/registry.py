"""The commands' registry and the argument types they share."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {}


def command(name: str, help: str):
    """Register `add_arguments(parser)`; the parser's `handler` default runs the command."""

    def register(add_arguments: Callable[[argparse.ArgumentParser], None]):
        COMMANDS[name] = (help, add_arguments)
        return add_arguments

    return register


def auto_or_count(value: str) -> int | str:
    """An argparse type: "auto" or a positive whole number."""
    if value == "auto" or (value.isdigit() and int(value) > 0):
        return value if value == "auto" else int(value)
    raise argparse.ArgumentTypeError(f"{value!r}: give a positive number or auto")


def number_in(low: float, high: float, *, open_low: bool = False, open_high: bool = False):
    """An argparse type: a finite number within [low, high] (ends open where asked)."""

    def number(value: str) -> float:
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        above = parsed > low if open_low else parsed >= low
        below = parsed < high if open_high else parsed <= high
        if not (math.isfinite(parsed) and above and below):
            ends = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
            raise argparse.ArgumentTypeError(f"{value!r}: give a finite number in {ends}")
        return parsed

    return number


def whole_number(least: int):
    def number(value: str) -> int:
        if not value.isdigit() or int(value) < least:
            raise argparse.ArgumentTypeError(f"{value!r}: give a whole number of at least {least}")
        return int(value)

    return number


class Renamed(argparse.Action):
    """An option that is gone: using it is a usage error naming its replacement."""

    def __init__(self, option_strings, dest, replacement: str = "", **kwargs):
        self.replacement = replacement
        super().__init__(option_strings, dest, nargs=0, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is gone: use {self.replacement}")
