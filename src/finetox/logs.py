"""Send a rule's stdout, stderr and log records to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_console_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)


@contextlib.contextmanager
def to_log(path: str | os.PathLike | None) -> Iterator[None]:
    """Within the block, everything printed or logged goes to `path` (appended).

    tqdm progress bars write to stderr, so they land in the log too; set
    FINETOX_PROGRESS_INTERVAL (seconds) to thin them out in long jobs.
    """
    if path is None:
        configure_console_logging()
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as handle:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=handle, force=True)
        started = time.time()
        with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
            try:
                yield
            except BaseException:
                logging.getLogger("finetox").exception("failed after %.1f s", time.time() - started)
                raise
            logging.getLogger("finetox").info("done in %.1f s", time.time() - started)


def progress_interval() -> float:
    """Seconds between progress-bar refreshes: frequent on a terminal, sparse in a log file."""
    default = 0.5 if sys.stderr.isatty() else 10.0
    return float(os.environ.get("FINETOX_PROGRESS_INTERVAL", default))
