"""The out-of-memory back-off of the batched model stages (generation and scoring).

The work runs at a starting size (prompts per batch, or tokens per batch); when a batch runs out
of memory, the device cache is cleared, the size halves and the work is called again. The work
keeps what it has finished between calls, so it goes on where it failed, at the smaller size.

accelerate decides what counts as out of memory and clears the cache. Its own loop,
`find_executable_batch_size`, is not used: it runs a full garbage collection on every call, even
when nothing failed (0.2 s per classifier in the scoring benchmark's process, 2% of its CPU
scoring time and more of a GPU's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def halving_on_oom(work: Callable[[int], T], start: int, *, log: logging.Logger, what: str) -> T:
    """`work(size)` from `size = start`, halving on out-of-memory; `what` names the size in the
    warning ("prompts per batch"). An out-of-memory error at size 1 is raised."""
    from accelerate.utils.memory import clear_device_cache, should_reduce_batch_size

    size = start
    while True:
        try:
            return work(size)
        except Exception as error:
            if size <= 1 or not should_reduce_batch_size(error):
                raise
        # outside the except block, so the failed batch's tensors are free to collect
        clear_device_cache(garbage_collection=True)
        log.warning("out of GPU memory with %d %s; going on with %d", size, what, size // 2)
        size //= 2
