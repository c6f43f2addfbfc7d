"""The training record the tune stage writes beside each adapter (its recipe, precision, step):
read here with the standard library, so the results stage can read it without torch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TRAINING_RECORD = "finetox_training.json"


def read_training_record(adapter: str | os.PathLike) -> dict[str, Any]:
    """The record of an adapter folder; {} where there is none."""
    path = Path(adapter) / TRAINING_RECORD
    if not path.exists():
        return {}
    return json.loads(path.read_text())
