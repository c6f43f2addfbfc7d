"""The generation part: the study's workload through finetox.generation on one model shape, the
seed authors' loop on the same prompts for the ratio, and batched tokens against one prompt at a
time."""

from __future__ import annotations

import contextlib
import io
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .measure import (
    GenerationRun,
    dtype_name,
    free_memory,
    identical_continuations,
    peak_gib,
    reset_peak,
    timed_generation,
    warm_up,
)
from .siblings import sibling_benchmark
from .sizes import AUTHORS_BATCH, STUDY_NEW_TOKENS, STUDY_PROMPTS
from .suite import Suite
from .workload import spread_sample


def measure_generation(suite: Suite, name: str) -> None:
    from finetox.generation import encode_prompts, load_model, model_settings

    folder = suite.model_folder(name)
    entry = suite.result["generation"]["models"][name]
    lengths, texts = suite.prompts(name)
    started = time.perf_counter()
    model, tokenizer = load_model(model_settings(str(folder)))
    entry["load_s"] = time.perf_counter() - started
    entry["dtype"] = dtype_name(next(model.parameters()).dtype)
    entry["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
    prompt_ids = encode_prompts(tokenizer, texts)
    assert [len(ids) for ids in prompt_ids] == [n + 1 for n in lengths]  # bos + the words

    warm_up(model, tokenizer, prompt_ids, suite.sizes)  # for both loops alike
    ours = measure_workload(suite, entry, model, tokenizer, prompt_ids, name)
    sample = spread_sample([len(ids) for ids in prompt_ids], suite.sizes.sample)
    sample_ids = [prompt_ids[i] for i in sample]
    singles = timed_generation(model, tokenizer, sample_ids, suite.sizes, batch_size=1)
    equal = identical_continuations([ours.continuations[i] for i in sample], singles.continuations)
    entry["one_at_a_time"] = {"sample": len(sample), "identical": equal, "dtype": entry["dtype"]}
    entry["batched_equals_one_at_a_time"] = equal == len(sample)
    measure_authors_loop(suite, entry, folder, texts, ours)
    check_batching_in_float32(suite, entry, model, tokenizer, sample_ids)
    del model
    free_memory()
    if suite.cuda:
        import torch

        entry["gpu_mem_after_gib"] = torch.cuda.memory_allocated() / 2**30


def measure_workload(suite: Suite, entry: dict, model, tokenizer, prompt_ids, name: str):
    """The whole workload with the auto batch size, as the generate stage runs it."""
    sizes = suite.sizes
    reset_peak()
    ours = timed_generation(model, tokenizer, prompt_ids, sizes)
    entry["wall_s"] = ours.seconds
    entry["new_tokens"] = ours.new_tokens
    entry["tokens_per_s"] = ours.new_tokens / ours.seconds
    entry["stopped_by_eos"] = sum(c.stop_reason == "eos" for c in ours.continuations)
    entry["peak_gpu_mem_gib"] = peak_gib()
    suite.skip_without_cuda(entry, "peak_gpu_mem_gib", where=f"generation.{name}")
    entry["auto_batch_size"] = ours.batch_sizes[0]  # the first batch holds the longest prompts
    entry["auto_batch_start"] = sizes.max_batch_size
    entry["auto_batch_halvings"] = ours.halvings
    entry["batches"] = len(ours.batch_sizes)
    entry["wall_s_for_2400_prompts"] = ours.seconds * STUDY_PROMPTS / sizes.prompts
    return ours


def measure_authors_loop(
    suite: Suite, entry: dict, folder: Path, texts: list[str], ours: GenerationRun
) -> None:
    """The seed authors' loop on the first prompts, in input order, extrapolated to all."""
    sizes = suite.sizes
    n_authors = min(sizes.authors_prompts, sizes.prompts)
    frame = pd.DataFrame(
        {
            "prompt_id": [f"p{i:05d}" for i in range(n_authors)],
            "subset": "random",
            "text": texts[:n_authors],
        }
    )
    seconds, authors = run_authors_loop(suite, folder, frame, entry["dtype"])
    entry["authors_loop_prompts_measured"] = n_authors
    entry["authors_loop_measured_s"] = seconds
    entry["authors_loop_extrapolated"] = n_authors < sizes.prompts
    entry["authors_loop_wall_s"] = seconds * sizes.prompts / n_authors
    entry["authors_loop_tokens_per_s"] = int(authors["n_new_tokens"].sum()) / seconds
    entry["ratio"] = entry["authors_loop_wall_s"] / entry["wall_s"]
    entry["authors_loop_identical"] = same_as_authors(authors, ours.continuations[:n_authors])
    entry["authors_loop_character_cut_differs"] = int(
        (authors["character_cut"] != authors["token_cut"]).sum()
    )


def same_as_authors(authors: pd.DataFrame, continuations: list) -> int:
    """Prompts whose continuation (text, token count, stop reason) equals the authors' loop's."""
    theirs = zip(authors["token_cut"], authors["n_new_tokens"], authors["stop_reason"], strict=True)
    return sum(
        (text, n, stop) == (c.generation, c.n_new_tokens, c.stop_reason)
        for (text, n, stop), c in zip(theirs, continuations, strict=True)
    )


def run_authors_loop(
    suite: Suite, folder: Path, frame: pd.DataFrame, dtype: str
) -> tuple[float, pd.DataFrame]:
    """benchmarks/generation.py's seed_loop, unchanged, in this process: its own load, its own
    batches of 16 in input order; the generation seconds it prints, and what it wrote."""
    bench = sibling_benchmark("generation")
    assert bench.SEED_BATCH_SIZE == AUTHORS_BATCH and bench.MAX_NEW_TOKENS == STUDY_NEW_TOKENS
    prompts, out = suite.work / "authors-prompts.parquet", suite.work / "authors.parquet"
    frame.to_parquet(prompts)
    captured = io.StringIO()
    started = time.perf_counter()
    bench.MAX_NEW_TOKENS = suite.sizes.max_new_tokens  # smoke: the toy length
    try:
        with contextlib.redirect_stderr(captured):
            bench.seed_loop(str(folder), str(prompts), str(out), dtype)
    except Exception as error:
        raise RuntimeError(f"the authors' loop failed: {captured.getvalue()[-1500:]}") from error
    finally:
        bench.MAX_NEW_TOKENS = STUDY_NEW_TOKENS
    seconds = bench.generation_seconds(captured.getvalue())
    if not math.isfinite(seconds):
        seconds = time.perf_counter() - started
    free_memory()
    return seconds, pd.read_parquet(out)


def check_batching_in_float32(suite: Suite, entry: dict[str, Any], model, tokenizer, sample_ids):
    """In float32 batching must not change a token (finetox's claim); in bfloat16 near ties of
    random weights' flat logits may flip, so the run's dtype alone would not show it."""
    if entry["dtype"] == "float32":
        entry["batched_equals_one_at_a_time_float32"] = entry["batched_equals_one_at_a_time"]
        return
    model.float()
    batched = timed_generation(model, tokenizer, sample_ids, suite.sizes)
    singles = timed_generation(model, tokenizer, sample_ids, suite.sizes, batch_size=1)
    equal = identical_continuations(batched.continuations, singles.continuations)
    entry["one_at_a_time_float32"] = {"sample": len(sample_ids), "identical": equal}
    entry["batched_equals_one_at_a_time_float32"] = equal == len(sample_ids)
