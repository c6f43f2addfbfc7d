"""The generations file: every prompt once, in the prompt table's order, with the settings that
shaped its tokens in a Parquet file's metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from finetox.generation.parts import MODEL_KEYS, RESULT_COLUMNS
from finetox.generation.prompt_table import some
from finetox.io import write_parquet, write_table
from finetox.loading import versions

OUTPUT_COLUMNS = ["prompt_id", "subset", "prompt", *RESULT_COLUMNS]
# sampled decoding: one row per prompt and sample (0..k-1), the samples of a prompt together
SAMPLED_COLUMNS = ["prompt_id", "sample", "subset", "prompt", *RESULT_COLUMNS]
COUNT_COLUMNS = ("n_prompt_tokens", "n_new_tokens", "n_prompt_tokens_truncated")


def with_samples(prompts: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each row of `prompts` k times, with its sample index 0..k-1, in the table's order."""
    rows = prompts.loc[prompts.index.repeat(k)].reset_index(drop=True)
    rows.insert(1, "sample", [sample for _ in range(len(prompts)) for sample in range(k)])
    return rows


def assemble(prompts: pd.DataFrame, done: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """The output in the prompt table's order; every prompt exactly once (k times, samples
    0..k-1, for sampled decoding: `k`)."""
    keys, columns = (["prompt_id"], OUTPUT_COLUMNS) if k is None else (
        ["prompt_id", "sample"], SAMPLED_COLUMNS
    )  # fmt: skip
    rows = prompts if k is None else with_samples(prompts, k)
    if k is not None:
        done = done.astype({"sample": "int64"})
    frame = rows.rename(columns={"text": "prompt"}).merge(
        done[[*keys, *RESULT_COLUMNS]], on=keys, how="left", validate="one_to_one"
    )
    missing = frame.loc[frame["generation"].isna(), "prompt_id"]
    if len(missing):
        raise RuntimeError(f"no generation for {len(missing)} row(s): prompts {some(missing)}")
    for column in (*COUNT_COLUMNS, *keys[1:]):
        frame[column] = frame[column].astype("int64")
    return frame[columns]


def metadata(
    settings: dict[str, Any], adapter, max_new_tokens: int, loaded: dict[str, Any],
    sampling: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What a Parquet output carries under the metadata key 'finetox': the settings that shaped
    its tokens, and what the loaded model resolved to (run_record): model.dtype is the torch
    dtype that ran, model.commit the hub commit or folder hash; decoding is greedy, or sampled
    with `sampling` (k, temperature, top_p, top_k, seed)."""
    import torch

    model = {key: settings.get(key) for key in ("name", *MODEL_KEYS)}
    model["dtype_setting"] = model["dtype"]
    model["dtype"] = loaded.get("torch_dtype")
    model["commit"] = loaded.get("commit")
    model["layout"] = loaded.get("layout")  # published models: adapter or full, and the base
    if loaded.get("found_as"):  # a renamed hub repository's new name (Appendix A shows it)
        model["found_as"] = loaded["found_as"]
    return {
        "model": model,
        "adapter": str(adapter) if adapter else None,
        "adapter_commit": loaded.get("adapter_commit"),
        "prompt_format": settings["prompt_format"],
        "stop": settings["stop"],
        "stop_ids": loaded.get("stop_ids"),
        "max_new_tokens": max_new_tokens,
        "on_long_prompt": settings.get("on_long_prompt", "error"),
        "context": loaded.get("context"),
        "decoding": "greedy" if sampling is None else "sampled",
        **({"sampling": sampling} if sampling is not None else {}),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "versions": versions(),
    }


def write_output(frame: pd.DataFrame, out: Path, metadata: dict[str, Any]) -> None:
    """Atomically; a Parquet output carries its settings under the metadata key 'finetox'."""
    if out.suffix.lower() == ".parquet":
        write_parquet(frame, out, metadata)
    else:
        write_table(frame, out)
