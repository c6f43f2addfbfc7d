"""Greedy decoding of prompts in batches: the pure part of the generate stage (sampled decoding
runs the same loop, its draw made by logits processors: finetox.generation.sampling).

Prompts are sorted by token length into batches (longest first, so an out-of-memory batch shows
up at the start), left padded, decoded greedily, and the results come back in the input order.
A continuation is the text of the new tokens only, cut by token position (the paper's loop cut
the decoded text by the prompt's character count, which breaks wherever decoding does not
reproduce the prompt exactly). Its token count includes the eos token when the model stopped by
itself. Batching does not change the tokens: the output equals one-prompt-at-a-time greedy
decoding with the same model and dtype (tests check it in float32).
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from finetox.batching import halving_on_oom
from finetox.io import UserError

log = logging.getLogger("finetox.generation")

PROMPT_FORMATS = ("raw", "chat_template")
# When a continuation ends: tokenizer_eos stops only at the tokenizer's eos_token_id, as the
# authors' generate(..., eos_token_id=tokenizer.eos_token_id) did (an instruct model runs on past
# its end-of-turn token unless its tokenizer's eos is that token, as Llama-3.1-Instruct's
# <|eot_id|> is); generation_config stops at every eos id the model's generation_config lists
# (Gemma-2-IT's <end_of_turn>, Llama-3.1-Instruct's <|eot_id|>).
STOP_RULES = ("tokenizer_eos", "generation_config")


@dataclass(frozen=True)
class Continuation:
    generation: str  # decoded new tokens, special tokens skipped
    n_prompt_tokens: int
    n_new_tokens: int  # eos included when the model stopped by itself
    stop_reason: str  # "eos" or "length"
    token_ids: tuple[int, ...]  # the new tokens


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


def greedy_config(model, tokenizer, max_new_tokens: int, stop: str = "tokenizer_eos"):
    """The model's own generation config, made greedy, with a pad token and the eos ids of the
    stop rule (STOP_RULES)."""
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
    if stop not in STOP_RULES:
        raise UserError(f"stop {stop!r}: use one of {STOP_RULES}")
    if stop == "tokenizer_eos" or config.eos_token_id is None:
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


# The KV cache. It subclasses a transformers internal, so it stays only while it is faster than
# the public API: benchmarks/generation.py prints the comparison (its "KV cache" line). On a CPU,
# 2,400 prompts: 21.6 s with it against 24.3 s with generate's default DynamicCache (7-12% over
# runs); a StaticCache (cache_implementation="static") was slower still (26.5 s against 21.7 s).


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


@functools.cache
def _cache_argument() -> str:
    """generate's name for a ready KV cache: `cache` in transformers 5.24, `past_key_values` in
    earlier 5.x releases (5.17 on the GPU machines), which reject the other name."""
    from transformers.generation.utils import ALL_CACHE_NAMES

    return ALL_CACHE_NAMES[0]


def _generate_batch(
    model, tokenizer, batch: list[list[int]], config, stops, processors=None
) -> list[Continuation]:
    """`processors`: logits processors after the model's own (sampled decoding's draw)."""
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
            **({_cache_argument(): cache} if cache is not None else {}),
            **({"logits_processor": processors} if processors is not None else {}),
        )
    new = output[:, width:].tolist()
    return [
        _continuation(row, len(ids), stops, tokenizer) for row, ids in zip(new, batch, strict=True)
    ]


Finished = Callable[[list[int], list[Continuation]], None]
# the logits processors of a batch, from the indices of its rows (sampled decoding)
Processors = Callable[[list[int]], object]


def generate_batches(
    model,
    tokenizer,
    prompt_ids: Sequence[list[int]],
    finished: Finished,
    *,
    max_new_tokens: int = 50,
    batch_size: int | str = "auto",
    max_batch_size: int = 128,
    stop: str = "tokenizer_eos",
    processors: Processors | None = None,
) -> list[int]:
    """Greedy continuations of `prompt_ids` in batches, longest prompts first; each finished
    batch goes to `finished(indices into prompt_ids, their continuations)`.

    batch_size "auto" starts at max_batch_size and halves whenever a batch runs out of GPU
    memory, then goes on with the smaller size; a fixed batch size never changes. Returns the
    eos ids the stop rule `stop` ended continuations at. `processors(indices)` gives a batch
    logits processors of its own (finetox.generation.sampling draws each row's token there).
    """
    if any(len(ids) == 0 for ids in prompt_ids):
        raise UserError("a prompt encodes to no tokens; every prompt needs some text")
    config = greedy_config(model, tokenizer, max_new_tokens, stop)
    stops = eos_ids(config)
    order = length_order([len(ids) for ids in prompt_ids])
    position = 0

    def run(size: int) -> None:
        nonlocal position
        while position < len(order):
            indices = order[position : position + size]
            batch = [prompt_ids[i] for i in indices]
            extra = () if processors is None else (processors(indices),)
            continuations = _generate_batch(model, tokenizer, batch, config, stops, *extra)
            position += len(indices)
            finished(indices, continuations)

    if batch_size == "auto":
        halving_on_oom(run, max_batch_size, log=log, what="prompts per batch")
    else:
        run(int(batch_size))
    return sorted(stops)


def generate(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    max_new_tokens: int = 50,
    batch_size: int | str = "auto",
    max_batch_size: int = 128,
    prompt_format: str = "raw",
    stop: str = "tokenizer_eos",
) -> list[Continuation]:
    """Greedy continuations of `texts`, in their order. The tokenizer must pad on the left."""
    if tokenizer.padding_side != "left":
        raise ValueError("generation needs a tokenizer that pads on the left")
    prompt_ids = encode_prompts(tokenizer, texts, prompt_format)
    results: list[Continuation | None] = [None] * len(prompt_ids)

    def keep(indices: list[int], continuations: list[Continuation]) -> None:
        for index, continuation in zip(indices, continuations, strict=True):
            results[index] = continuation

    generate_batches(
        model, tokenizer, prompt_ids, keep,
        max_new_tokens=max_new_tokens, batch_size=batch_size, max_batch_size=max_batch_size,
        stop=stop,
    )  # fmt: skip
    return results  # type: ignore[return-value]
