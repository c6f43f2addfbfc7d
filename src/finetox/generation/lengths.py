"""Prompt lengths against the model's context, checked before the model loads.

A prompt of n tokens leaves room for max_new_tokens only when n + max_new_tokens fits the
model's context. The context is the config's max_position_embeddings (of the text model, for a
multimodal config), the positions the model was built for; a sliding-window model has it too.
The tokenizer's model_max_length is used only when the config has none, as tokenizers often
carry a placeholder (transformers' 1e30 when the tokenizer files set none) or a value of their
own that is not the model's. `generation.on_long_prompt` says what a longer prompt gets: error
(the default: one error naming the prompts, their lengths, the model and its context) or
truncate_left, which keeps the right end of the prompt's text, as many tokens as fit, inside the
prompt format (the chat template and special tokens stay whole); the generations file records
per row how many prompt tokens were cut (n_prompt_tokens_truncated).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from finetox.generation.decoding import encode_prompts
from finetox.io import UserError

log = logging.getLogger("finetox.generation")

ON_LONG_PROMPT = ("error", "truncate_left")
SENSIBLE_LIMIT = 10**9  # above this a tokenizer's model_max_length is a placeholder


def context_length(config, tokenizer) -> tuple[int | None, str]:
    """(tokens the model can attend to, where that number comes from); (None, ...) when neither
    the config nor the tokenizer says."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        return positions, "max_position_embeddings"
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < SENSIBLE_LIMIT:
        return limit, "the tokenizer's model_max_length"
    return None, "neither max_position_embeddings nor a tokenizer model_max_length"


def _tail_that_fits(tokenizer, text: str, prompt_format: str, budget: int) -> list[int]:
    """The token ids of the prompt made of the longest right end of `text` that fits `budget`
    tokens, cut where one of the text's tokens starts (at a character where the tokenizer gives
    no offsets)."""

    def encoded(start: int) -> list[int]:
        return encode_prompts(tokenizer, [text[start:]], prompt_format)[0]

    if getattr(tokenizer, "is_fast", False):
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        starts = sorted({start for start, _ in offsets["offset_mapping"] if start > 0})
    else:
        starts = list(range(1, len(text)))
    if not starts or len(encoded(starts[-1])) > budget:
        raise UserError(
            f"a prompt cannot be cut to {budget} tokens: its format alone takes more; "
            "raise the context or lower max_new_tokens"
        )
    low, high = -1, len(starts) - 1  # starts[high] fits; the whole text (low) does not
    while high - low > 1:
        middle = (low + high) // 2
        if len(encoded(starts[middle])) <= budget:
            high = middle
        else:
            low = middle
    return encoded(starts[high])


def fit_prompts(
    tokenizer,
    texts: Sequence[str],
    prompt_ids: Sequence[str],
    *,
    prompt_format: str,
    max_new_tokens: int,
    context: tuple[int | None, str],
    on_long_prompt: str,
    model: str,
) -> tuple[list[list[int]], list[int]]:
    """(token ids per prompt, tokens cut from each): every prompt encoded as generation encodes
    it and checked against the model's `context` minus max_new_tokens; a longer prompt is an
    error naming every such prompt, or is cut on the left (`on_long_prompt`)."""
    if on_long_prompt not in ON_LONG_PROMPT:
        raise UserError(f"on_long_prompt {on_long_prompt!r}: use one of {ON_LONG_PROMPT}")
    ids = encode_prompts(tokenizer, texts, prompt_format)
    limit, source = context
    if limit is None:
        log.warning("%s: its context length is unknown (%s); prompt lengths are not checked",
                    model, source)  # fmt: skip
        return ids, [0] * len(ids)
    budget = limit - max_new_tokens
    if budget < 1:
        raise UserError(
            f"{model}: max_new_tokens {max_new_tokens} leaves no room for a prompt in its "
            f"context of {limit} tokens ({source})"
        )
    long = [i for i, row in enumerate(ids) if len(row) > budget]
    if not long:
        return ids, [0] * len(ids)
    named = ", ".join(f"{prompt_ids[i]!r} ({len(ids[i])} tokens)" for i in long[:5])
    named += f" and {len(long) - 5} more" if len(long) > 5 else ""
    room = f"its context of {limit} tokens ({source}) minus max_new_tokens {max_new_tokens}"
    if on_long_prompt == "error":
        raise UserError(
            f"{model}: {len(long)} prompt(s) longer than the {budget} tokens {room} leaves: "
            f"{named}; shorten them, or set generation.on_long_prompt: truncate_left "
            "(finetox generate --on-long-prompt truncate_left)"
        )
    truncated = [0] * len(ids)
    for i in long:
        kept = _tail_that_fits(tokenizer, texts[i], prompt_format, budget)
        truncated[i] = len(ids[i]) - len(kept)
        ids[i] = kept
    log.warning("%s: %d prompt(s) cut on the left to the %d tokens %s leaves: %s",
                model, len(long), budget, room, named)  # fmt: skip
    return ids, truncated
