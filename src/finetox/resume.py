"""Resumable work folders: generation's finished batches and tuning's checkpoints.

A job that may be killed keeps what it has finished in a folder stamped with the fingerprint of
everything that shapes the result (settings, inputs, model files). A rerun reuses the folder only
when its stamp matches; otherwise the folder is cleared and the job starts afresh.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from finetox.io import atomic_path

log = logging.getLogger("finetox.resume")

STAMP = "fingerprint.json"


def _canonical(fingerprint: dict[str, Any]) -> Any:
    """The fingerprint as it reads back from its stamp."""
    return json.loads(json.dumps(fingerprint, default=str))


def _stamp_matches(stamp: Path, fingerprint: dict[str, Any]) -> bool:
    try:
        return json.loads(stamp.read_text()) == _canonical(fingerprint)
    except (OSError, ValueError):  # no stamp, or one cut short by a kill
        return False


def open_resumable(folder: str | os.PathLike, fingerprint: dict[str, Any]) -> bool:
    """Make `folder` ready for the work `fingerprint` describes; True when it holds work of an
    earlier run with the same fingerprint (to be resumed), False when it starts empty."""
    folder = Path(folder)
    stamp = folder / STAMP
    if folder.exists():
        if _stamp_matches(stamp, fingerprint):
            return True
        if any(folder.iterdir()):
            log.warning("%s: made with other settings or inputs; starting afresh", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with atomic_path(stamp) as tmp:
        tmp.write_text(json.dumps(fingerprint, indent=1, default=str) + "\n")
    return False
