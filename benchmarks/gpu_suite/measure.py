"""Clocks, GPU memory and warning counters, and finetox's greedy decoding timed."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from .sizes import Sizes

NO_CUDA = "no CUDA on this machine: GPU memory is not measured"


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def free_memory() -> None:
    gc.collect()
    if cuda_available():
        import torch

        torch.cuda.empty_cache()


def sync() -> None:
    """Wait for the GPU's queued work, so a clock read after it includes that work."""
    if cuda_available():
        import torch

        torch.cuda.synchronize()


def reset_peak() -> None:
    if cuda_available():
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    """The largest GPU allocation since the last reset_peak; None without CUDA."""
    if not cuda_available():
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**30


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


class WarningCounter(logging.Handler):
    def __init__(self, text: str):
        super().__init__(logging.WARNING)
        self.text, self.count = text, 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.count += 1


@contextlib.contextmanager
def counting_warnings(logger: str, text: str) -> Iterator[WarningCounter]:
    """Count the warnings of `logger` that contain `text` while the block runs."""
    handler = WarningCounter(text)
    logging.getLogger(logger).addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger(logger).removeHandler(handler)


@dataclass
class GenerationRun:
    continuations: list  # finetox.generation.Continuation per prompt, in input order
    batch_sizes: list[int]
    halvings: int  # of the auto batch size, after running out of GPU memory
    seconds: float

    @property
    def new_tokens(self) -> int:
        return sum(c.n_new_tokens for c in self.continuations)


def timed_generation(model, tokenizer, prompt_ids, sizes: Sizes, **options: Any) -> GenerationRun:
    """finetox's batched greedy decoding (generate_batches: what generate and generate_file
    run), timed, with the batch sizes it used and how often the auto search halved. `options`
    override generate_batches' settings (batch_size, max_batch_size)."""
    from finetox.generation.decoding import generate_batches

    results: list = [None] * len(prompt_ids)
    batch_sizes: list[int] = []

    def keep(indices, continuations) -> None:
        batch_sizes.append(len(indices))
        for index, continuation in zip(indices, continuations, strict=True):
            results[index] = continuation

    settings = {"max_new_tokens": sizes.max_new_tokens, "batch_size": "auto"}
    settings["max_batch_size"] = sizes.max_batch_size
    settings.update(options)
    with counting_warnings("finetox.generation", "out of GPU memory") as halvings:
        sync()
        started = time.perf_counter()
        generate_batches(model, tokenizer, prompt_ids, keep, **settings)
        sync()
        seconds = time.perf_counter() - started
    return GenerationRun(results, batch_sizes, halvings.count, seconds)


def warm_up(model, tokenizer, prompt_ids, sizes: Sizes) -> None:
    """Two short generations outside the clock (kernels, the allocator)."""
    timed_generation(model, tokenizer, prompt_ids[:2], replace(sizes, max_new_tokens=2))


def identical_continuations(a: list, b: list) -> int:
    """How many prompts got the same new tokens in both lists."""
    return sum(x.token_ids == y.token_ids for x, y in zip(a, b, strict=True))
