"""The part folder beside a generations output: finished batches kept across a kill, reused
only by a run whose fingerprint (everything that changes the tokens) is the same."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.generation.decoding import Continuation
from finetox.io import frame_sha256

PART_SUFFIX = ".part"  # the folder of finished batches beside the output
LOADED = "loaded.json"  # in the part folder: what the loaded model resolved to (run_record)
MODEL_KEYS = ("source", "revision", "dtype", "trust_remote_code", "load_in_4bit")
# a part row: the prompt's id, its continuation, and how many of its tokens were cut
# (generation.on_long_prompt: truncate_left; 0 for a prompt that fit the model's context)
RESULT_COLUMNS = [
    "generation",
    "n_prompt_tokens",
    "n_new_tokens",
    "stop_reason",
    "n_prompt_tokens_truncated",
]


def part_folder(out: str | os.PathLike) -> Path:
    return Path(f"{out}{PART_SUFFIX}")


def _folder_signature(folder: str | os.PathLike | None) -> list[list[Any]] | None:
    """Names, sizes and modification times of a local folder's files: a rebuilt model or adapter
    changes it, so parts made with the old one are not reused."""
    if not folder or not Path(folder).is_dir():
        return None
    return [
        [str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns]
        for path in sorted(Path(folder).rglob("*"))
        if path.is_file()
    ]


def fingerprint(
    settings: dict[str, Any], adapter, prompts: pd.DataFrame, max_new_tokens, layout=None,
    sampling: dict[str, Any] | None = None,
) -> dict:  # fmt: skip
    """Everything that changes the tokens (the batch size does not)."""
    stamp = {
        **{key: settings.get(key) for key in MODEL_KEYS},
        "prompt_format": settings["prompt_format"],
        "stop": settings["stop"],
        "max_new_tokens": max_new_tokens,
        "on_long_prompt": settings.get("on_long_prompt", "error"),
        "adapter": str(adapter) if adapter else None,
        "model_files": _folder_signature(settings["source"]),
        "adapter_files": _folder_signature(adapter),
        "prompts_sha256": frame_sha256(prompts),
    }
    if layout is not None:  # only for published models: other models' parts stay valid
        stamp["layout"] = layout.identity()
    if sampling is not None:  # only for sampled runs: greedy parts stay valid
        stamp["sampling"] = sampling
    return stamp


def finished_rows(folder: Path, sampled: bool = False) -> pd.DataFrame:
    """The rows of the batches finished in `folder`, each prompt (each prompt and sample, for
    sampled decoding) once."""
    keys = ["prompt_id", "sample"] if sampled else ["prompt_id"]
    shards = sorted(folder.glob("batch-*.parquet"))
    if not shards:
        return pd.DataFrame(columns=[*keys, *RESULT_COLUMNS])
    done = pd.concat([pd.read_parquet(path) for path in shards], ignore_index=True)
    return done.drop_duplicates(keys, keep="first")


def part_rows(
    prompt_ids: Sequence[str], continuations: Sequence[Continuation], truncated: Sequence[int],
    samples: Sequence[int] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per continuation; `samples`: each row's sample index (sampled decoding)."""
    return pd.DataFrame(
        {
            "prompt_id": list(prompt_ids),
            **({"sample": list(samples)} if samples is not None else {}),
            "generation": [c.generation for c in continuations],
            "n_prompt_tokens": [c.n_prompt_tokens for c in continuations],
            "n_new_tokens": [c.n_new_tokens for c in continuations],
            "stop_reason": [c.stop_reason for c in continuations],
            "n_prompt_tokens_truncated": list(truncated),
        }
    )
