"""The finetox command line: the same functions the workflow's rules call."""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback

from finetox import __version__
from finetox.cli import compare, hub, models, progress, study  # noqa: F401  (each registers its commands)
from finetox.cli.registry import COMMANDS
from finetox.io import UserError
from finetox.logs import configure_console_logging

# in the order a study runs
ORDER = (
    "check-config", "config-reference", "preflight", "discover", "demo-data", "build-prompts",
    "tune", "generate", "score", "compare", "card", "results", "progress",
)  # fmt: skip
EXIT_CODES = (
    "exit status: 0 done; 2 bad input (one line naming the culprit); 3 internal error (one line "
    "naming a log file with the traceback); 1 only where a command says so: compare's release "
    "gate failed, progress saw a failed job"
)
INTERNAL_ERROR = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finetox", description=__doc__, epilog=EXIT_CODES)
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
    except Exception as error:
        # A bug, not bad input: its own exit code (1 is compare's failed gate), one line on the
        # terminal, and the traceback in a file rather than mixed into the command's output.
        print(
            f"finetox {args.command}: internal error ({type(error).__name__}: "
            f"{' '.join(str(error).split())}); {_keep_traceback(args.command)}",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


def _keep_traceback(command: str) -> str:
    """Write the exception being handled to a log file in the temporary folder; where it is."""
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix=f"finetox-{command}-", suffix=".log", delete=False
        ) as handle:
            traceback.print_exc(file=handle)
    except OSError:
        traceback.print_exc(file=sys.stderr)
        return "the traceback is above"
    return f"the traceback is in {handle.name}"


if __name__ == "__main__":
    sys.exit(main())
