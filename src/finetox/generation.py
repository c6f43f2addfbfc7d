"""Greedy continuations of the prompt set, one model at a time: batched, exact and resumable.

`generate` is the pure part: prompts sorted by token length into batches (longest first, so an
out-of-memory batch shows up at the start), left padding, greedy decoding, results back in the
input order. A continuation is the text of the new tokens only, cut by token position (the
paper's loop cut the decoded text by the prompt's character count, which breaks wherever decoding
does not reproduce the prompt exactly). Its token count includes the eos token when the model
stopped by itself. Batching does not change the tokens: the output equals one-prompt-at-a-time
greedy decoding with the same model and dtype (tests check it in float32).

`generate_file` reads a prompt table, loads the model (hub id or local folder, optionally with a
LoRA adapter), appends each finished batch to a part folder beside the output, and writes the
output atomically at the end; a killed job rerun with the same settings continues where it
stopped. The rule and the CLI both call it.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import resource
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from finetox import __version__
from finetox.io import (
    InputError,
    UserError,
    atomic_path,
    frame_sha256,
    read_table,
    write_parquet,
    write_table,
)
from finetox.loading import free_gpu_memory
from finetox.logs import progress_interval

log = logging.getLogger("finetox.generation")

PROMPT_COLUMNS = ["prompt_id", "subset", "text"]
RESULT_COLUMNS = ["generation", "n_prompt_tokens", "n_new_tokens", "stop_reason"]
OUTPUT_COLUMNS = ["prompt_id", "subset", "prompt", *RESULT_COLUMNS]
PROMPT_FORMATS = ("raw", "chat_template")
PART_SUFFIX = ".part"  # the folder of finished batches beside the output
MODEL_KEYS = ("source", "revision", "dtype", "trust_remote_code", "load_in_4bit")


@dataclass(frozen=True)
class Continuation:
    generation: str  # decoded new tokens, special tokens skipped
    n_prompt_tokens: int
    n_new_tokens: int  # eos included when the model stopped by itself
    stop_reason: str  # "eos" or "length"
    token_ids: tuple[int, ...]  # the new tokens


# ---------------------------------------------------------------------------------------------
# The pure part


def encode_prompts(tokenizer, texts: Sequence[str], prompt_format: str = "raw") -> list[list[int]]:
    """Token ids per prompt: the raw text (with the tokenizer's special tokens, e.g. bos), or the
    text as the user turn of the model's chat template, ready for the assistant's answer."""
    if prompt_format == "raw":
        return tokenizer(list(texts))["input_ids"]
    if prompt_format != "chat_template":
        raise UserError(f"prompt_format {prompt_format!r}: use one of {PROMPT_FORMATS}")
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"{tokenizer.name_or_path}: the tokenizer has no chat template; use prompt_format raw"
        )
    rendered = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
        for text in texts
    ]
    # the template writes the special tokens (bos) itself
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def greedy_config(model, tokenizer, max_new_tokens: int):
    """The model's own generation config, made greedy, with a pad token and an eos token."""
    from transformers import GenerationConfig

    base = getattr(model, "generation_config", None) or GenerationConfig()
    config = copy.deepcopy(base)
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    config.do_sample = False
    config.num_beams = 1
    # sampling settings mean nothing without sampling; clear them so no warning repeats per batch
    config.temperature = config.top_p = config.top_k = None
    config.pad_token_id = tokenizer.pad_token_id
    if config.eos_token_id is None:
        config.eos_token_id = tokenizer.eos_token_id
    return config


def eos_ids(config) -> set[int]:
    eos = config.eos_token_id
    return {eos} if isinstance(eos, int) else set(eos or ())


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indices by decreasing length; ties keep input order."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def _continuation(new_ids: list[int], n_prompt: int, stops: set[int], tokenizer) -> Continuation:
    end = next((i + 1 for i, token in enumerate(new_ids) if token in stops), None)
    kept = new_ids if end is None else new_ids[:end]
    return Continuation(
        generation=tokenizer.decode(kept, skip_special_tokens=True),
        n_prompt_tokens=n_prompt,
        n_new_tokens=len(kept),
        stop_reason="length" if end is None else "eos",
        token_ids=tuple(kept),
    )


@functools.cache
def _reserved_layer_class():
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        """A DynamicLayer that reserves room for the whole continuation once, where DynamicLayer
        concatenates on every step (a fresh allocation and a copy of the whole cache per layer
        and token: most of the decoding time of a small model on a CPU). Attention sees the
        same keys and values, so the tokens do not change."""

        room = 0  # positions to reserve beyond those the first update brings

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            filled = self.keys.shape[-2] if self.keys.numel() else 0
            reserved = getattr(self, "reserved", None)
            in_place = reserved is not None and self.keys.data_ptr() == reserved[0].data_ptr()
            end = filled + key_states.shape[-2]
            if not in_place or end > reserved[0].shape[-2]:  # first call, or the cache was edited
                shape = (*key_states.shape[:-2], end + self.room, key_states.shape[-1])
                reserved = tuple(key_states.new_empty(shape) for _ in range(2))
                if filled:
                    reserved[0][..., :filled, :] = self.keys
                    reserved[1][..., :filled, :] = self.values
                self.reserved = reserved
            reserved[0][..., filled:end, :] = key_states
            reserved[1][..., filled:end, :] = value_states
            self.keys, self.values = reserved[0][..., :end, :], reserved[1][..., :end, :]
            return self.keys, self.values

        def reset(self) -> None:
            self.reserved = None
            super().reset()

    return ReservedLayer


def _reserved_cache(model, config):
    """A KV cache with room for max_new_tokens, or None where the model's cache is not plain
    full attention (sliding windows, a cache type set by the model): then generate's default."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    if getattr(config, "cache_implementation", None):
        return None
    cache = DynamicCache(config=model.config)
    if not cache.layers or any(type(layer) is not DynamicLayer for layer in cache.layers):
        return None
    layer_class = _reserved_layer_class()
    layers = [layer_class() for _ in cache.layers]
    for layer in layers:
        layer.room = config.max_new_tokens
    cache.layers = layers
    return cache


def _generate_batch(model, tokenizer, batch: list[list[int]], config, stops) -> list[Continuation]:
    import torch

    padded = tokenizer.pad({"input_ids": batch}, padding=True, return_tensors="pt")
    width = padded["input_ids"].shape[1]
    device = model.device
    cache = _reserved_cache(model, config)
    with torch.inference_mode():
        output = model.generate(
            input_ids=padded["input_ids"].to(device),
            attention_mask=padded["attention_mask"].to(device),
            generation_config=config,
            **({"cache": cache} if cache is not None else {}),
        )
    new = output[:, width:].tolist()
    return [
        _continuation(row, len(ids), stops, tokenizer) for row, ids in zip(new, batch, strict=True)
    ]


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError)


def iter_batches(
    model,
    tokenizer,
    prompt_ids: Sequence[list[int]],
    *,
    max_new_tokens: int = 50,
    batch_size: int | str = "auto",
    max_batch_size: int = 128,
) -> Iterator[tuple[list[int], list[Continuation]]]:
    """(indices into prompt_ids, their continuations) per finished batch, longest prompts first.

    batch_size "auto" starts at max_batch_size and halves whenever a batch runs out of GPU
    memory, then goes on with the smaller size; a fixed batch size never changes."""
    if any(len(ids) == 0 for ids in prompt_ids):
        raise UserError("a prompt encodes to no tokens; every prompt needs some text")
    auto = batch_size == "auto"
    size = max_batch_size if auto else int(batch_size)
    config = greedy_config(model, tokenizer, max_new_tokens)
    stops = eos_ids(config)
    order = length_order([len(ids) for ids in prompt_ids])
    position = 0
    while position < len(order):
        indices = order[position : position + size]
        try:
            continuations = _generate_batch(
                model, tokenizer, [prompt_ids[i] for i in indices], config, stops
            )
        except Exception as error:
            if not (auto and size > 1 and _is_out_of_memory(error)):
                raise
            free_gpu_memory()
            size //= 2
            log.warning(
                "out of GPU memory with %d prompts per batch; going on with %d", size * 2, size
            )
            continue
        position += len(indices)
        yield indices, continuations


def generate(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    max_new_tokens: int = 50,
    batch_size: int | str = "auto",
    max_batch_size: int = 128,
    prompt_format: str = "raw",
) -> list[Continuation]:
    """Greedy continuations of `texts`, in their order. The tokenizer must pad on the left."""
    if tokenizer.padding_side != "left":
        raise ValueError("generation needs a tokenizer that pads on the left")
    prompt_ids = encode_prompts(tokenizer, texts, prompt_format)
    results: list[Continuation | None] = [None] * len(prompt_ids)
    for indices, continuations in iter_batches(
        model, tokenizer, prompt_ids,
        max_new_tokens=max_new_tokens, batch_size=batch_size, max_batch_size=max_batch_size,
    ):  # fmt: skip
        for index, continuation in zip(indices, continuations, strict=True):
            results[index] = continuation
    return results  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Files: prompts in, generations out, finished batches kept across a kill


def read_prompts(path: str | os.PathLike) -> pd.DataFrame:
    """The prompt table (Parquet, JSONL or CSV) with prompt_id, subset, text; checked."""
    frame = read_table(path, columns=PROMPT_COLUMNS)[PROMPT_COLUMNS].copy()
    if frame.empty:
        raise InputError(f"{path}: no prompts")
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


def _fingerprint(settings: dict[str, Any], adapter, prompts: pd.DataFrame, max_new_tokens) -> dict:
    """Everything that changes the tokens (the batch size does not)."""
    return {
        **{key: settings.get(key) for key in MODEL_KEYS},
        "prompt_format": settings["prompt_format"],
        "max_new_tokens": max_new_tokens,
        "adapter": str(adapter) if adapter else None,
        "model_files": _folder_signature(settings["source"]),
        "adapter_files": _folder_signature(adapter),
        "prompts_sha256": frame_sha256(prompts),
    }


def part_folder(out: str | os.PathLike) -> Path:
    return Path(f"{out}{PART_SUFFIX}")


def _open_parts(folder: Path, fingerprint: dict) -> pd.DataFrame:
    """Finished rows from an earlier, killed run with the same settings (else start afresh)."""
    stamp = folder / "fingerprint.json"
    if folder.exists():
        same = stamp.exists() and json.loads(stamp.read_text()) == json.loads(
            json.dumps(fingerprint)
        )
        if same:
            shards = sorted(folder.glob("batch-*.parquet"))
            if shards:
                done = pd.concat([pd.read_parquet(path) for path in shards], ignore_index=True)
                return done.drop_duplicates("prompt_id", keep="first")
        else:
            log.info("%s: made with other settings or prompts; starting afresh", folder)
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(stamp) as tmp:
        tmp.write_text(json.dumps(fingerprint, indent=1) + "\n")
    return pd.DataFrame(columns=["prompt_id", *RESULT_COLUMNS])


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


def _write_output(frame: pd.DataFrame, out: Path, metadata: dict[str, Any]) -> None:
    """Atomically; a Parquet output carries its settings under the metadata key 'finetox'."""
    if out.suffix.lower() == ".parquet":
        write_parquet(frame, out, metadata)
    else:
        write_table(frame, out)


def _check_sources(settings: dict[str, Any], adapter) -> None:
    from finetox.config import HUB_ID

    source = settings["source"]
    if not Path(source).exists() and not HUB_ID.match(source):
        raise InputError(f"model {source!r}: no such folder, and not a hub id (owner/name)")
    if adapter is not None:
        if not Path(adapter).is_dir():
            raise InputError(f"adapter {str(adapter)!r}: no such folder")
        if not (Path(adapter) / "adapter_config.json").exists():
            raise InputError(
                f"adapter {str(adapter)!r}: no adapter_config.json (not a peft adapter)"
            )


def load_model(settings: dict[str, Any], adapter=None):
    """(model, tokenizer) for generation: tokenizer padding on the left, model in eval mode."""
    from finetox.loading import load_causal_lm, load_tokenizer

    source = settings["source"]
    try:
        tokenizer = load_tokenizer(
            source,
            revision=settings.get("revision"),
            trust_remote_code=settings.get("trust_remote_code", False),
            padding_side="left",
        )
        model = load_causal_lm(
            source,
            revision=settings.get("revision"),
            dtype=settings.get("dtype", "auto"),
            trust_remote_code=settings.get("trust_remote_code", False),
            load_in_4bit=settings.get("load_in_4bit", False),
            adapter=adapter,
        )
    except OSError as error:  # not found, no access, no network: say which model
        raise UserError(f"model {source!r}: cannot be loaded: {error}") from error
    return model, tokenizer


def _peak_memory() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB GPU (max allocated)"
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return f"{peak_kib / 2**10:.0f} MiB host (peak RSS)"


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {
        "finetox": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }


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
    dtype: str = "auto",
    revision: str | None = None,
    trust_remote_code: bool = False,
    load_in_4bit: bool | str = False,
    threads: int | None = None,
) -> pd.DataFrame:
    """Greedy continuations of every prompt in `prompts`, written to `out` (Parquet, JSONL or
    CSV) in the prompt table's order. `model` is a hub id or folder, or a study model's settings
    (whose values win over the keyword arguments). Finished batches are kept in `{out}.part/`
    until the output is written, so a rerun after a kill continues where it stopped."""
    import torch
    from tqdm import tqdm

    settings = model_settings(
        model, batch_size=batch_size, prompt_format=prompt_format, dtype=dtype,
        revision=revision, trust_remote_code=trust_remote_code, load_in_4bit=load_in_4bit,
    )  # fmt: skip
    name, out = settings["name"], Path(out)
    if settings["prompt_format"] not in PROMPT_FORMATS:
        raise UserError(f"prompt_format {settings['prompt_format']!r}: use one of {PROMPT_FORMATS}")
    _check_sources(settings, adapter)
    if threads:
        torch.set_num_threads(int(threads))
    frame = read_prompts(prompts)
    parts = part_folder(out)
    done = _open_parts(parts, _fingerprint(settings, adapter, frame, max_new_tokens))
    done = done[done["prompt_id"].isin(frame["prompt_id"])]
    todo = frame[~frame["prompt_id"].isin(done["prompt_id"])].reset_index(drop=True)
    if len(done):
        log.info("%s: %d of %d prompts already done in %s; generating the other %d",
                 name, len(done), len(frame), parts, len(todo))  # fmt: skip
    started, new_tokens = time.time(), 0
    if len(todo):
        lm, tokenizer = load_model(settings, adapter)
        log.info("%s: %d prompts, %s format, at most %d new tokens, greedy, batch size %s%s",
                 name, len(todo), settings["prompt_format"], max_new_tokens, settings["batch_size"],
                 f" (from {max_batch_size})" if settings["batch_size"] == "auto" else "")  # fmt: skip
        started = time.time()
        prompt_ids = encode_prompts(tokenizer, list(todo["text"]), settings["prompt_format"])
        shard = len(list(parts.glob("batch-*.parquet")))
        bar = tqdm(total=len(frame), initial=len(done), unit="prompt", desc=name,
                   mininterval=progress_interval(), file=sys.stderr)  # fmt: skip
        with bar:
            for indices, continuations in iter_batches(
                lm, tokenizer, prompt_ids, max_new_tokens=max_new_tokens,
                batch_size=settings["batch_size"], max_batch_size=max_batch_size,
            ):  # fmt: skip
                rows = _part_rows(todo["prompt_id"].iloc[indices], continuations)
                write_table(rows, parts / f"batch-{shard:05d}.parquet")
                shard += 1
                new_tokens += int(rows["n_new_tokens"].sum())
                bar.update(len(indices))
        done = _open_parts(parts, _fingerprint(settings, adapter, frame, max_new_tokens))
    result = _assemble(frame, done)
    metadata = {
        "model": {key: settings.get(key) for key in ("name", *MODEL_KEYS)},
        "adapter": str(adapter) if adapter else None,
        "prompt_format": settings["prompt_format"],
        "max_new_tokens": max_new_tokens,
        "decoding": "greedy",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "versions": _versions(),
    }
    _write_output(result, out, metadata)
    shutil.rmtree(parts, ignore_errors=True)
    seconds = max(time.time() - started, 1e-9)
    log.info(
        "%s: %d prompts generated in %.1f s: %.2f prompts/s, %.1f new tokens/s, peak memory %s%s -> %s",
        name, len(todo), seconds, len(todo) / seconds, new_tokens / seconds, _peak_memory(),
        f" ({len(frame) - len(todo)} resumed)" if len(todo) < len(frame) else "", out,
    )  # fmt: skip
    return result
