"""The finetox command line: the same functions the workflow's rules call."""

from __future__ import annotations

import argparse
import sys

from finetox import __version__
from finetox.cli import compare, models, progress, study  # noqa: F401  (each registers its commands)
from finetox.cli.registry import COMMANDS
from finetox.io import UserError
from finetox.logs import configure_console_logging

# in the order a study runs
ORDER = (
    "check-config", "config-reference", "demo-data", "build-prompts", "tune", "generate", "score",
    "compare", "card", "results", "progress",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finetox", description=__doc__)
    parser.add_argument("--version", action="version", version=f"finetox {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in sorted(
        COMMANDS, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER)
    ):
        help_text, add_arguments = COMMANDS[name]
        add_arguments(subparsers.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_console_logging()
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        # Errors a user can act on: one clear message, no traceback.
        print(f"finetox {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
