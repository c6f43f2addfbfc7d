"""The tune settings: the config's `tune` section (or its defaults), what a command line adds,
and the recipe that runs once the `auto` values are decided for this machine."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from finetox.io import InputError


def tune_settings(
    config: str | os.PathLike | None = None,
    *,
    data: str | None = None,
    max_records: int | None = None,
) -> dict[str, Any]:
    """The `tune` section of a study config (or the defaults), with the data source and
    record cap a command line gives; `data` is a local file or a hub dataset id."""
    from finetox.config import HUB_ID, load_study_file, section_defaults

    settings = load_study_file(config).config["tune"] if config else section_defaults("tune")
    settings = copy.deepcopy(settings)
    if data is not None:
        if Path(data).is_file():
            settings["data"] = {**settings["data"], "path": data}
        elif HUB_ID.match(data):
            settings["data"] = {**settings["data"], "hub": data, "path": None}
        else:
            raise InputError(f"{data}: neither a file nor a hub dataset id (owner/name)")
    if max_records is not None:
        if max_records < 1:
            raise InputError(f"--max-records: {max_records} must be at least 1")
        settings["max_records"] = max_records
    return settings


def resolve_recipe(settings: dict[str, Any], cuda: bool) -> dict[str, Any]:
    """What actually runs: the `auto` settings decided for this machine."""
    resolved = copy.deepcopy(settings)
    if resolved["load_in_4bit"] == "auto":
        resolved["load_in_4bit"] = cuda
    if resolved["optim"] == "auto":
        resolved["optim"] = "adamw_8bit" if cuda else "adamw_torch"
    if resolved.get("gradient_checkpointing", "auto") == "auto":
        resolved["gradient_checkpointing"] = cuda
    return resolved
