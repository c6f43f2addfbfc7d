"""The generate stage: a prompt table in, one model's greedy continuations out, resumable.

`generate_file` reads a prompt table, loads the model (hub id or local folder, optionally with a
LoRA adapter), appends each finished batch to a part folder beside the output (a resumable
folder, finetox.resume), and writes the output atomically at the end; a killed job rerun with the
same settings continues where it stopped. The rule and the CLI both call it.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.generation.decoding import (
    PROMPT_FORMATS,
    STOP_RULES,
    Continuation,
    encode_prompts,
    eos_ids,
    generate_batches,
    greedy_config,
)
from finetox.io import (
    InputError,
    UserError,
    check_filled,
    check_table_path,
    check_writable,
    frame_sha256,
    read_table,
    write_parquet,
    write_table,
)
from finetox.loading import folder_sha256, resolved_commit, versions
from finetox.logs import progress_interval
from finetox.resume import open_resumable, output_lock
from finetox.weights_layout import LAYOUTS, WeightsLayout, detect_layout

log = logging.getLogger("finetox.generation")

PROMPT_COLUMNS = ["prompt_id", "subset", "text"]
RESULT_COLUMNS = ["generation", "n_prompt_tokens", "n_new_tokens", "stop_reason"]
OUTPUT_COLUMNS = ["prompt_id", "subset", "prompt", *RESULT_COLUMNS]
PART_SUFFIX = ".part"  # the folder of finished batches beside the output
LOADED = "loaded.json"  # in the part folder: what the loaded model resolved to (run_record)
MODEL_KEYS = ("source", "revision", "dtype", "trust_remote_code", "load_in_4bit")


def read_prompts(path: str | os.PathLike) -> pd.DataFrame:
    """The prompt table (Parquet, JSONL or CSV) with prompt_id, subset, text; checked."""
    frame = read_table(path, columns=PROMPT_COLUMNS)[PROMPT_COLUMNS].copy()
    if frame.empty:
        raise InputError(f"{path}: no prompts")
    check_filled(frame, ["prompt_id", "subset"], path)
    frame["prompt_id"] = frame["prompt_id"].astype(str)
    duplicated = frame.loc[frame["prompt_id"].duplicated(), "prompt_id"].unique()
    if len(duplicated):
        raise InputError(f"{path}: prompt_id not unique: {_some(duplicated)}")
    empty = frame.loc[
        ~frame["text"].map(lambda text: isinstance(text, str) and bool(text.strip())), "prompt_id"
    ]
    if len(empty):
        raise InputError(f"{path}: prompts without text: {_some(empty)}")
    frame["subset"] = frame["subset"].astype(str)
    return frame.reset_index(drop=True)


def _some(values: Sequence[Any], n: int = 5) -> str:
    values = list(values)
    more = f" and {len(values) - n} more" if len(values) > n else ""
    return ", ".join(map(repr, values[:n])) + more


def model_settings(model: str | dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """A model's settings from a source (hub id or folder) or a settings dict (a study model's
    `settings()`): the dict's values win over `defaults`, the generation section's values."""
    settings = dict(defaults)
    if isinstance(model, dict):
        settings.update(model)
    else:
        settings["source"] = str(model)
    if not settings.get("source"):
        raise UserError("no model: give a hub id or a local folder")
    settings.setdefault("name", Path(settings["source"]).name)
    return settings


def _check_settings(settings: dict[str, Any], adapter) -> WeightsLayout | None:
    """Settings and sources checked before anything loads; a published model's layout (what
    its files hold, finetox.weights_layout), or None for a model loaded as it is."""
    from finetox.config import HUB_ID
    from finetox.loading import check_model_folder

    if settings["prompt_format"] not in PROMPT_FORMATS:
        raise UserError(f"prompt_format {settings['prompt_format']!r}: use one of {PROMPT_FORMATS}")
    if settings["stop"] not in STOP_RULES:
        raise UserError(f"stop {settings['stop']!r}: use one of {STOP_RULES}")
    source, layout = settings["source"], settings.get("layout")
    if not Path(source).exists() and not HUB_ID.match(source):
        raise InputError(f"model {source!r}: no such folder, and not a hub id (owner/name)")
    if layout is not None:
        if layout not in LAYOUTS:
            raise UserError(f"layout {layout!r}: use one of {LAYOUTS}")
        if adapter is not None:
            raise UserError(
                f"model {source!r}: a published model (layout {layout}) takes no adapter"
            )
        return detect_layout(source, settings.get("revision"), layout, settings.get("name"))
    check_model_folder(source)
    if adapter is not None:
        if not Path(adapter).is_dir():
            raise InputError(f"adapter {str(adapter)!r}: no such folder")
        if not (Path(adapter) / "adapter_config.json").exists():
            raise InputError(
                f"adapter {str(adapter)!r}: no adapter_config.json (not a peft adapter)"
            )
    return None


def load_model(settings: dict[str, Any], adapter=None, layout: WeightsLayout | None = None):
    """(model, tokenizer) for generation: tokenizer padding on the left, model in eval mode. A
    published model loads as its `layout` says: a LoRA adapter on its base, or its weights, with
    its own tokenizer or else the base's, at the commit its files were listed at."""
    from finetox.loading import load_causal_lm, load_tokenizer

    source, revision = settings["source"], settings.get("revision")
    model_at, tokenizer_at, adapter_at = (source, revision), (source, revision), (adapter, None)
    if layout is not None:
        model_at, tokenizer_at = layout.model, layout.tokenizer
        adapter_at = layout.adapter or (None, None)
    try:
        tokenizer = load_tokenizer(
            tokenizer_at[0],
            revision=tokenizer_at[1],
            trust_remote_code=settings.get("trust_remote_code", False),
            padding_side="left",
            slug=settings.get("name"),
        )
        model = load_causal_lm(
            model_at[0],
            revision=model_at[1],
            dtype=settings.get("dtype", "auto"),
            trust_remote_code=settings.get("trust_remote_code", False),
            load_in_4bit=settings.get("load_in_4bit", False),
            adapter=adapter_at[0],
            adapter_revision=adapter_at[1],
            slug=settings.get("name"),
        )
    except OSError as error:  # not found, no access, no network: say which model
        raise UserError(f"model {source!r}: cannot be loaded: {error}") from error
    return model, tokenizer


# ---------------------------------------------------------------------------------------------
# The part folder: finished batches kept across a kill


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


def _fingerprint(
    settings: dict[str, Any], adapter, prompts: pd.DataFrame, max_new_tokens, layout=None
) -> dict:
    """Everything that changes the tokens (the batch size does not)."""
    fingerprint = {
        **{key: settings.get(key) for key in MODEL_KEYS},
        "prompt_format": settings["prompt_format"],
        "stop": settings["stop"],
        "max_new_tokens": max_new_tokens,
        "adapter": str(adapter) if adapter else None,
        "model_files": _folder_signature(settings["source"]),
        "adapter_files": _folder_signature(adapter),
        "prompts_sha256": frame_sha256(prompts),
    }
    if layout is not None:  # only for published models: other models' parts stay valid
        fingerprint["layout"] = layout.identity()
    return fingerprint


def _finished_rows(folder: Path) -> pd.DataFrame:
    """The rows of the batches finished in `folder`, each prompt once."""
    shards = sorted(folder.glob("batch-*.parquet"))
    if not shards:
        return pd.DataFrame(columns=["prompt_id", *RESULT_COLUMNS])
    done = pd.concat([pd.read_parquet(path) for path in shards], ignore_index=True)
    return done.drop_duplicates("prompt_id", keep="first")


def _part_rows(prompt_ids: Sequence[str], continuations: Sequence[Continuation]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt_id": list(prompt_ids),
            "generation": [c.generation for c in continuations],
            "n_prompt_tokens": [c.n_prompt_tokens for c in continuations],
            "n_new_tokens": [c.n_new_tokens for c in continuations],
            "stop_reason": [c.stop_reason for c in continuations],
        }
    )


def run_record(
    settings: dict[str, Any], adapter, lm, tokenizer, max_new_tokens: int, layout=None
) -> dict:
    """What the loaded model resolved to: the eos ids the stop rule ends continuations at, the
    torch dtype the weights ran in, and the commit (hub) or content hash (folder) of the model
    and of the adapter; for a published model the commit is the published repository's, and
    `layout` says what its files held and the base an adapter loaded on (with its commit)."""
    config = greedy_config(lm, tokenizer, max_new_tokens, settings["stop"])
    record = {
        "stop_ids": sorted(eos_ids(config)),
        "torch_dtype": str(lm.dtype).removeprefix("torch."),
        "commit": layout.commit if layout else resolved_commit(settings["source"], lm),
        "adapter_commit": "sha256:" + folder_sha256(adapter) if adapter else None,
    }
    if layout is not None:
        base_commit = resolved_commit(layout.base, lm) if layout.kind == "adapter" else None
        in_4bit = bool(getattr(lm, "is_loaded_in_4bit", False))
        record["layout"] = layout.record(base_commit=base_commit, loaded_in_4bit=in_4bit)
    return record


def _generate_parts(
    settings: dict[str, Any], adapter, todo: pd.DataFrame, parts: Path, *,
    total: int, max_new_tokens: int, max_batch_size: int, layout: WeightsLayout | None,
) -> tuple[float, int]:  # fmt: skip
    """Generate the `todo` prompts, one part file per finished batch; (seconds, new tokens)."""
    from tqdm import tqdm

    name = settings["name"]
    lm, tokenizer = load_model(settings, adapter, layout)
    record = run_record(settings, adapter, lm, tokenizer, max_new_tokens, layout)
    # beside the batches: a rerun that finds every batch done reads it there
    (parts / LOADED).write_text(json.dumps(record, indent=1) + "\n")
    log.info("%s: %d prompts, %s format, at most %d new tokens, greedy, stop %s at ids %s, "
             "batch size %s%s", name, len(todo), settings["prompt_format"], max_new_tokens,
             settings["stop"], record["stop_ids"], settings["batch_size"],
             f" (from {max_batch_size})" if settings["batch_size"] == "auto" else "")  # fmt: skip
    started = time.time()
    prompt_ids = encode_prompts(tokenizer, list(todo["text"]), settings["prompt_format"])
    shard, new_tokens = len(list(parts.glob("batch-*.parquet"))), 0
    bar = tqdm(total=total, initial=total - len(todo), unit="prompt", desc=name,
               mininterval=progress_interval(), file=sys.stderr)  # fmt: skip

    def keep(indices: list[int], continuations: list[Continuation]) -> None:
        nonlocal shard, new_tokens
        rows = _part_rows(todo["prompt_id"].iloc[indices], continuations)
        write_table(rows, parts / f"batch-{shard:05d}.parquet")
        shard += 1
        new_tokens += int(rows["n_new_tokens"].sum())
        bar.update(len(indices))

    with bar:
        generate_batches(
            lm, tokenizer, prompt_ids, keep, max_new_tokens=max_new_tokens,
            batch_size=settings["batch_size"], max_batch_size=max_batch_size,
            stop=settings["stop"],
        )  # fmt: skip
    return time.time() - started, new_tokens


# ---------------------------------------------------------------------------------------------
# The output


def _assemble(prompts: pd.DataFrame, done: pd.DataFrame) -> pd.DataFrame:
    """The output in the prompt table's order; every prompt exactly once."""
    frame = prompts.rename(columns={"text": "prompt"}).merge(
        done[["prompt_id", *RESULT_COLUMNS]], on="prompt_id", how="left", validate="one_to_one"
    )
    missing = frame.loc[frame["generation"].isna(), "prompt_id"]
    if len(missing):
        raise RuntimeError(f"no generation for {len(missing)} prompt(s): {_some(missing)}")
    frame["n_prompt_tokens"] = frame["n_prompt_tokens"].astype("int64")
    frame["n_new_tokens"] = frame["n_new_tokens"].astype("int64")
    return frame[OUTPUT_COLUMNS]


def _metadata(
    settings: dict[str, Any], adapter, max_new_tokens: int, loaded: dict[str, Any]
) -> dict[str, Any]:
    """What a Parquet output carries under the metadata key 'finetox': the settings that shaped
    its tokens, and what the loaded model resolved to (run_record): model.dtype is the torch
    dtype that ran, model.commit the hub commit or folder hash."""
    import torch

    model = {key: settings.get(key) for key in ("name", *MODEL_KEYS)}
    model["dtype_setting"] = model["dtype"]
    model["dtype"] = loaded.get("torch_dtype")
    model["commit"] = loaded.get("commit")
    model["layout"] = loaded.get("layout")  # published models: adapter or full, and the base
    return {
        "model": model,
        "adapter": str(adapter) if adapter else None,
        "adapter_commit": loaded.get("adapter_commit"),
        "prompt_format": settings["prompt_format"],
        "stop": settings["stop"],
        "stop_ids": loaded.get("stop_ids"),
        "max_new_tokens": max_new_tokens,
        "decoding": "greedy",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "versions": versions(),
    }


def _write_output(frame: pd.DataFrame, out: Path, metadata: dict[str, Any]) -> None:
    """Atomically; a Parquet output carries its settings under the metadata key 'finetox'."""
    if out.suffix.lower() == ".parquet":
        write_parquet(frame, out, metadata)
    else:
        write_table(frame, out)


def _peak_memory() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB GPU (max allocated)"
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return f"{peak_kib / 2**10:.0f} MiB host (peak RSS)"


def generate_file(
    model: str | dict[str, Any],
    prompts: str | os.PathLike,
    out: str | os.PathLike,
    *,
    adapter: str | os.PathLike | None = None,
    max_new_tokens: int = 50,
    batch_size: int | str = "auto",
    max_batch_size: int = 128,
    prompt_format: str = "raw",
    stop: str = "tokenizer_eos",
    dtype: str = "auto",
    revision: str | None = None,
    trust_remote_code: bool = False,
    load_in_4bit: bool | str = False,
    layout: str | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Greedy continuations of every prompt in `prompts`, written to `out` (Parquet, JSONL or
    CSV) in the prompt table's order. `model` is a hub id or folder, or a study model's settings
    (whose values win over the keyword arguments); `layout` (detect, adapter or full) marks a
    published model, a LoRA adapter on its base or full weights (finetox.weights_layout).
    Finished batches are kept in `{out}.part/` until the output is written, so a rerun after a
    kill continues where it stopped; a second run on the same output while one runs refuses at
    once (the lock file `{out}.lock`)."""
    settings = model_settings(
        model, batch_size=batch_size, prompt_format=prompt_format, stop=stop, dtype=dtype,
        revision=revision, trust_remote_code=trust_remote_code, load_in_4bit=load_in_4bit,
        layout=layout,
    )  # fmt: skip
    out = Path(out)
    weights_layout = _check_settings(settings, adapter)
    check_table_path(out)
    check_writable(out, "generations file")  # before the prompts are read or the model loaded
    with output_lock(out, "finetox generate"):  # one run per output: a second one refuses
        return _generate_file(
            settings, prompts, out, adapter=adapter, layout=weights_layout,
            max_new_tokens=max_new_tokens, max_batch_size=max_batch_size, threads=threads,
        )  # fmt: skip


def _generate_file(
    settings: dict[str, Any], prompts: str | os.PathLike, out: Path, *, adapter,
    layout: WeightsLayout | None, max_new_tokens: int, max_batch_size: int, threads: int | None,
) -> pd.DataFrame:  # fmt: skip
    """generate_file's work, under the output's lock."""
    import torch

    name, parts = settings["name"], part_folder(out)
    if threads:
        torch.set_num_threads(int(threads))
    frame = read_prompts(prompts)
    open_resumable(parts, _fingerprint(settings, adapter, frame, max_new_tokens, layout))
    done = _finished_rows(parts)
    done = done[done["prompt_id"].isin(frame["prompt_id"])]
    todo = frame[~frame["prompt_id"].isin(done["prompt_id"])].reset_index(drop=True)
    if len(done):
        log.info("%s: %d of %d prompts already done in %s; generating the other %d",
                 name, len(done), len(frame), parts, len(todo))  # fmt: skip
    seconds, new_tokens = 0.0, 0
    if len(todo):
        seconds, new_tokens = _generate_parts(
            settings, adapter, todo, parts, total=len(frame), max_new_tokens=max_new_tokens,
            max_batch_size=max_batch_size, layout=layout,
        )  # fmt: skip
        done = _finished_rows(parts)
    result = _assemble(frame, done)
    loaded = json.loads((parts / LOADED).read_text()) if (parts / LOADED).exists() else {}
    _write_output(result, out, _metadata(settings, adapter, max_new_tokens, loaded))
    shutil.rmtree(parts, ignore_errors=True)
    seconds = max(seconds, 1e-9)
    log.info(
        "%s: %d prompts generated in %.1f s: %.2f prompts/s, %.1f new tokens/s, peak memory %s%s -> %s",
        name, len(todo), seconds, len(todo) / seconds, new_tokens / seconds, _peak_memory(),
        f" ({len(frame) - len(todo)} resumed)" if len(todo) < len(frame) else "", out,
    )  # fmt: skip
    return result
