"""Send a rule's stdout, stderr and log records to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Notices of the libraries we use that look like failures in a clean run's log but say nothing
# about it. Each is silenced at its source, by its exact message, and only there: every other
# record of the same logger and every other warning still reaches the log.
#
# Log records, logger -> message pattern:
LIBRARY_LOG_NOTICES = {
    # bitsandbytes, at import on a CPU with AVX512-BF16, tries an optional kernel package
    # ("kernels") and warns when it is missing; it then uses its own CPU kernel, and 4-bit
    # weights are only used on CUDA here
    "bitsandbytes.backends.cpu.ops": r"Failed to load CPU gemm_4bit_forward from kernels-community",
    # ArviZ's preview namespace says at import which of its refactored packages it found
    "arviz.preview": r"arviz_(base|stats|plots) (not installed|available)",
    # transformers, at every generate() call (each batch) of a model whose generation_config.json
    # sets max_length (Llama-2's: 4096): the max_new_tokens finetox always sets wins. Clearing
    # max_length in the greedy config does not stop it: generate refills unset values from the
    # model's own generation config
    "transformers.generation.utils": r"Both `max_new_tokens` \(=\d+\) and `max_length`",
    # huggingface_hub's HTTP client logs every request at INFO (a preflight makes about a
    # hundred); its errors reach finetox as exceptions, which say what failed
    "httpx2": r"HTTP Request: ",
    "httpx": r"HTTP Request: ",
}
# Warnings, (category, message pattern, module pattern): the module is where the library's own
# code issues the warning, so the same message from our code would still show.
LIBRARY_WARNINGS = (
    # ArviZ's once-a-day notice at import (its message starts with a newline)
    (FutureWarning, r"\s*ArviZ is undergoing a major refactor", r"arviz"),
    # PyTensor at import when pip installed it; BEST samples with nutpie (numba), not PyTensor's C
    (UserWarning, r"PyTensor could not link to a BLAS", r"pytensor\."),
    # peft's PeftModel reads this deprecated property of every transformers model it wraps
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated", r"transformers\.modeling_utils"),
    # torch.utils.mkldnn decorates its classes with torch.jit.script_method; torch.compile imports
    # it, and bitsandbytes compiles its ops when peft imports it
    (DeprecationWarning, r"`torch\.jit\.script_method` is deprecated", r"torch\.jit\._script"),
)


class _DropMessage(logging.Filter):
    """Drops the records of one logger whose message matches a pattern."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def quiet_libraries() -> None:
    """Silence LIBRARY_LOG_NOTICES and LIBRARY_WARNINGS (idempotent). Every rule's log
    (to_log) and the command line call it before the libraries are imported."""
    for name, pattern in LIBRARY_LOG_NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) for f in logger.filters):
            logger.addFilter(_DropMessage(pattern))
    for category, message, module in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def configure_console_logging(level: int = logging.INFO) -> None:
    quiet_libraries()
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
    quiet_libraries()
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
