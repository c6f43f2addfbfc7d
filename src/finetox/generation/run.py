"""The generate stage: a prompt table in, one model's continuations out (greedy, or k sampled
per prompt: finetox.generation.sampling), resumable.

`generate_file` reads a prompt table, checks every prompt's length against the model's context
(finetox.generation.lengths) before the model's weights load, loads the model (hub id or local
folder, optionally with a LoRA adapter), appends each finished batch to a part folder beside the
output (finetox.generation.parts), and writes the output atomically at the end
(finetox.generation.output); a killed job rerun with the same settings continues where it
stopped. The rule and the CLI both call it.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.generation.decoding import Continuation, generate_batches
from finetox.generation.lengths import fit_prompts
from finetox.generation.model import (
    check_settings,
    load_generation_tokenizer,
    load_weights,
    model_context,
    model_settings,
    run_record,
)
from finetox.generation.output import assemble, metadata, with_samples, write_output
from finetox.generation.parts import LOADED, fingerprint, finished_rows, part_folder, part_rows
from finetox.generation.prompt_table import read_prompts
from finetox.generation.sampling import Sampling, row_seed, sampling_processors
from finetox.io import check_table_path, check_writable, write_table
from finetox.logs import progress_interval
from finetox.resume import open_resumable, output_lock
from finetox.weights_layout import WeightsLayout

log = logging.getLogger("finetox.generation")


def _generate_parts(
    settings: dict[str, Any], adapter, todo: pd.DataFrame, parts: Path, *, tokenizer,
    context: dict[str, Any], total: int, max_new_tokens: int, max_batch_size: int,
    layout: WeightsLayout | None, sampling: Sampling | None = None,
) -> tuple[float, int]:  # fmt: skip
    """Generate the `todo` rows (their token ids in its column `ids`; a prompt and its sample
    index for sampled decoding), one part file per finished batch; (seconds, new tokens)."""
    from tqdm import tqdm

    name = settings["name"]
    lm = load_weights(settings, adapter, layout)
    record = run_record(settings, adapter, lm, tokenizer, max_new_tokens, layout)
    record["context"] = context
    # beside the batches: a rerun that finds every batch done reads it there
    (parts / LOADED).write_text(json.dumps(record, indent=1) + "\n")
    log.info("%s: %s, %s format, at most %d new tokens (%d in all), %s, stop %s at ids %s, "
             "batch size %s%s", name, _rows(todo, sampling), settings["prompt_format"],
             max_new_tokens, len(todo) * max_new_tokens,
             "greedy" if sampling is None else sampling.describe(), settings["stop"],
             record["stop_ids"], settings["batch_size"],
             f" (from {max_batch_size})" if settings["batch_size"] == "auto" else "")  # fmt: skip
    started = time.time()
    shard, new_tokens = len(list(parts.glob("batch-*.parquet"))), 0
    bar = tqdm(total=total, initial=total - len(todo), desc=name,
               unit="prompt" if sampling is None else "continuation",
               mininterval=progress_interval(), file=sys.stderr)  # fmt: skip

    def keep(indices: list[int], continuations: list[Continuation]) -> None:
        nonlocal shard, new_tokens
        rows = part_rows(
            todo["prompt_id"].iloc[indices], continuations, todo["truncated"].iloc[indices],
            None if sampling is None else todo["sample"].iloc[indices],
        )  # fmt: skip
        write_table(rows, parts / f"batch-{shard:05d}.parquet")
        shard += 1
        new_tokens += int(rows["n_new_tokens"].sum())
        bar.update(len(indices))

    with bar:
        generate_batches(
            lm, tokenizer, list(todo["ids"]), keep, max_new_tokens=max_new_tokens,
            batch_size=settings["batch_size"], max_batch_size=max_batch_size,
            stop=settings["stop"], processors=_row_draws(todo, sampling, lm.device),
        )  # fmt: skip
    return time.time() - started, new_tokens


def _rows(todo: pd.DataFrame, sampling: Sampling | None) -> str:
    """'12 prompts', or for sampled decoding '25 samples x 12 prompts = 300 continuations'
    (those left to do)."""
    if sampling is None:
        return f"{len(todo)} prompts"
    prompts = todo["prompt_id"].nunique()
    return f"{sampling.k} samples x {prompts} prompts = {len(todo)} continuations"


def _row_draws(todo: pd.DataFrame, sampling: Sampling | None, device):
    """Sampled decoding: a batch's logits processors, each row drawing with the generator of
    its (prompt, sample); None for greedy decoding."""
    if sampling is None:
        return None
    seeds = [
        row_seed(sampling.seed, prompt_id, int(sample))
        for prompt_id, sample in zip(todo["prompt_id"], todo["sample"], strict=True)
    ]

    def processors(indices: list[int]):
        return sampling_processors(sampling, [seeds[i] for i in indices], device)

    return processors


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
    on_long_prompt: str = "error",
    dtype: str = "auto",
    revision: str | None = None,
    trust_remote_code: bool = False,
    load_in_4bit: bool | str = False,
    layout: str | None = None,
    threads: int | None = None,
    sampling: Sampling | dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Greedy continuations of every prompt in `prompts`, written to `out` (Parquet, JSONL or
    CSV) in the prompt table's order; with `sampling` (a Sampling, or the config's
    generation.sampled section) k sampled continuations per prompt, column `sample` 0..k-1. `model` is a hub id or folder, or a study model's settings
    (whose values win over the keyword arguments); `layout` (detect, adapter or full) marks a
    published model, a LoRA adapter on its base or full weights (finetox.weights_layout).
    A prompt longer than the model's context minus max_new_tokens is an error, before the
    weights load, or is cut on the left (`on_long_prompt`, finetox.generation.lengths).
    Finished batches are kept in `{out}.part/` until the output is written, so a rerun after a
    kill continues where it stopped; a second run on the same output while one runs refuses at
    once (the lock file `{out}.lock`)."""
    settings = model_settings(
        model, batch_size=batch_size, prompt_format=prompt_format, stop=stop, dtype=dtype,
        revision=revision, trust_remote_code=trust_remote_code, load_in_4bit=load_in_4bit,
        layout=layout, on_long_prompt=on_long_prompt,
    )  # fmt: skip
    out = Path(out)
    if isinstance(sampling, dict):
        sampling = Sampling.from_settings(sampling)
    weights_layout = check_settings(settings, adapter)
    check_table_path(out)
    check_writable(out, "generations file")  # before the prompts are read or the model loaded
    with output_lock(out, "finetox generate"):  # one run per output: a second one refuses
        return _generate_file(
            settings, prompts, out, adapter=adapter, layout=weights_layout,
            max_new_tokens=max_new_tokens, max_batch_size=max_batch_size, threads=threads,
            sampling=sampling,
        )  # fmt: skip


def _encoded_prompts(
    settings: dict[str, Any], frame: pd.DataFrame, layout: WeightsLayout | None,
    max_new_tokens: int,
) -> tuple[pd.DataFrame, Any, dict[str, Any]]:  # fmt: skip
    """(the prompt table with each prompt's token ids and the tokens cut from it, the
    tokenizer, the model's context): the lengths checked before the weights load."""
    tokenizer = load_generation_tokenizer(settings, layout)
    limit, source = model_context(settings, tokenizer, layout)
    ids, truncated = fit_prompts(
        tokenizer, list(frame["text"]), list(frame["prompt_id"]),
        prompt_format=settings["prompt_format"], max_new_tokens=max_new_tokens,
        context=(limit, source), on_long_prompt=settings["on_long_prompt"],
        model=f"{settings['name']} ({settings['source']})",
    )  # fmt: skip
    encoded = frame.assign(ids=ids, truncated=truncated)
    return encoded, tokenizer, {"tokens": limit, "from": source}


def _generate_file(
    settings: dict[str, Any], prompts: str | os.PathLike, out: Path, *, adapter,
    layout: WeightsLayout | None, max_new_tokens: int, max_batch_size: int, threads: int | None,
    sampling: Sampling | None,
) -> pd.DataFrame:  # fmt: skip
    """generate_file's work, under the output's lock."""
    import torch

    name, parts = settings["name"], part_folder(out)
    if threads:
        torch.set_num_threads(int(threads))
    frame = read_prompts(prompts)
    encoded, tokenizer, context = _encoded_prompts(settings, frame, layout, max_new_tokens)
    record = None if sampling is None else sampling.record()
    open_resumable(parts, fingerprint(settings, adapter, frame, max_new_tokens, layout, record))
    if sampling is not None:
        encoded = with_samples(encoded, sampling.k)
    keys = ["prompt_id"] if sampling is None else ["prompt_id", "sample"]
    done = finished_rows(parts, sampled=sampling is not None)
    done = done[done["prompt_id"].isin(frame["prompt_id"])]
    finished = pd.MultiIndex.from_frame(done[keys].astype({"prompt_id": str}))
    todo = encoded[~pd.MultiIndex.from_frame(encoded[keys]).isin(finished)].reset_index(drop=True)
    what = "prompts" if sampling is None else "continuations"
    if len(done):
        log.info("%s: %d of %d %s already done in %s; generating the other %d",
                 name, len(done), len(encoded), what, parts, len(todo))  # fmt: skip
    seconds, new_tokens = 0.0, 0
    if len(todo):
        seconds, new_tokens = _generate_parts(
            settings, adapter, todo, parts, tokenizer=tokenizer, context=context,
            total=len(encoded), max_new_tokens=max_new_tokens, max_batch_size=max_batch_size,
            layout=layout, sampling=sampling,
        )  # fmt: skip
        done = finished_rows(parts, sampled=sampling is not None)
    result = assemble(frame, done, None if sampling is None else sampling.k)
    loaded = json.loads((parts / LOADED).read_text()) if (parts / LOADED).exists() else {}
    write_output(result, out, metadata(settings, adapter, max_new_tokens, loaded, record))
    shutil.rmtree(parts, ignore_errors=True)
    seconds = max(seconds, 1e-9)
    log.info(
        "%s: %d %s generated in %.1f s: %.2f %s/s, %.1f new tokens/s, peak memory %s%s -> %s",
        name, len(todo), what, seconds, len(todo) / seconds, what, new_tokens / seconds,
        _peak_memory(), f" ({len(encoded) - len(todo)} resumed)" if len(todo) < len(encoded)
        else "", out,
    )  # fmt: skip
    return result
