"""`finetox progress`: where a running or finished workflow stands, from its jobs' logs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from finetox.cli.registry import command, number_in
from finetox.errors import UserError


@command(
    "progress",
    "one line per job of a running or finished workflow: state, done/total, rate, time left",
)
def _progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="where the workflow runs (default: here)",
    )
    parser.add_argument(
        "--config",
        help="the study config (default: the one the last Snakemake run in DIR was given, "
        "else DIR/config/config.yaml)",
    )
    parser.add_argument(
        "--watch",
        type=number_in(0, 86400, open_low=True),
        metavar="SECONDS",
        help="refresh every SECONDS until no job runs and no Snakemake holds DIR (or Ctrl-C)",
    )
    parser.epilog = "Exit status 1 when a job failed, 0 otherwise."

    def run(args: argparse.Namespace) -> int:
        from finetox.progress import progress_table, workflow_progress

        if not Path(args.directory).is_dir():
            raise UserError(f"{args.directory}: no such folder")
        if args.config and not Path(args.config).is_file():
            raise UserError(f"--config {args.config}: no such file")
        clear = args.watch and sys.stdout.isatty()
        progress = None
        try:
            while True:
                progress = workflow_progress(args.directory, args.config)
                if clear:
                    print("\033[H\033[J", end="")
                print(progress_table(progress), flush=True)
                finished = not progress.snakemake_running and not progress.count("running")
                if not args.watch or finished:
                    break
                time.sleep(args.watch)
                if not clear:
                    print()
        except KeyboardInterrupt:
            pass
        return 1 if progress is not None and progress.count("failed") else 0

    parser.set_defaults(handler=run)
