"""Dolly records as training sequences: rendered as text, tokenized with one bos, labelled for
the loss, cut at `max_seq_length` (or packed into blocks of it)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from finetox.io import UserError
from finetox.logs import progress_interval
from finetox.tune.data import DOLLY_COLUMNS

log = logging.getLogger("finetox.tune")

CONTEXT_PREFIX = "Here's some context: "
IGNORE_INDEX = -100  # label of a token that does not count in the loss
PAPER_BOS = "<s>"


@dataclass(frozen=True)
class Rendered:
    text: str
    response_start: int  # character offset where the response begins


def render_paper_inst(instruction: str, context: str, response: str, eos_token: str) -> Rendered:
    """The authors' rendering, character for character."""
    prompt = f"{PAPER_BOS}[INST] {instruction}"
    if context:
        prompt += f"{CONTEXT_PREFIX}{context}"
    prompt += " [/INST] "
    return Rendered(text=f"{prompt}{response}{eos_token}", response_start=len(prompt))


def chat_user_turn(instruction: str, context: str) -> str:
    return f"{instruction}\n\n{CONTEXT_PREFIX}{context}" if context else instruction


def render_chat_template(tokenizer, instruction: str, context: str, response: str) -> Rendered:
    """The model's own chat template: user = instruction (+ context), assistant = response."""
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"tune.format: chat_template, but the tokenizer of {tokenizer.name_or_path!r} has no "
            "chat template; use format: paper_inst"
        )
    user = [{"role": "user", "content": chat_user_turn(instruction, context)}]
    prompt = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    text = tokenizer.apply_chat_template(
        [*user, {"role": "assistant", "content": response}], tokenize=False
    )
    start = len(prompt) if text.startswith(prompt) else text.rfind(response)
    if start < 0:
        raise UserError(
            f"the chat template of {tokenizer.name_or_path!r} does not contain the response verbatim"
        )
    return Rendered(text=text, response_start=start)


def render(record: dict[str, Any] | pd.Series, tokenizer, fmt: str) -> Rendered:
    instruction, context, response = (record[c] for c in DOLLY_COLUMNS)
    if fmt == "paper_inst":
        if tokenizer.eos_token is None:
            raise UserError(f"the tokenizer of {tokenizer.name_or_path!r} has no eos token")
        return render_paper_inst(instruction, context, response, tokenizer.eos_token)
    if fmt == "chat_template":
        return render_chat_template(tokenizer, instruction, context, response)
    raise UserError(f"tune.format: unknown format {fmt!r}; use paper_inst or chat_template")


def adds_bos(tokenizer) -> bool:
    """Whether the tokenizer puts a bos token in front by itself (with special tokens on)."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(with_special) and with_special[0] == bos


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    tokens_cut: int = 0


def tokenize_rendered(
    tokenizer,
    rendered: Sequence[Rendered],
    *,
    max_seq_length: int | None,
    loss_on: str = "all",
    bos: bool | None = None,
) -> list[Example]:
    """Token ids and labels, one bos at most, cut at `max_seq_length` (None: not cut)."""
    bos = adds_bos(tokenizer) if bos is None else bos
    encoded = tokenizer(
        [r.text for r in rendered], add_special_tokens=False, return_offsets_mapping=True
    )
    examples = []
    for item, ids, offsets in zip(
        rendered, encoded["input_ids"], encoded["offset_mapping"], strict=True
    ):
        ids, offsets = list(ids), [tuple(o) for o in offsets]
        if bos and (not ids or ids[0] != tokenizer.bos_token_id):
            ids, offsets = [tokenizer.bos_token_id, *ids], [(0, 0), *offsets]
        if loss_on == "response":
            # a token counts once it reaches into the response (its leading space may not)
            labels = [t if end > item.response_start else IGNORE_INDEX for t, (_, end) in zip(ids, offsets, strict=True)]  # fmt: skip
        elif loss_on == "all":
            labels = list(ids)
        else:
            raise UserError(f"tune.loss_on: unknown value {loss_on!r}; use all or response")
        cut = max(0, len(ids) - max_seq_length) if max_seq_length else 0
        if cut:
            ids, labels = ids[:max_seq_length], labels[:max_seq_length]
        examples.append(Example(ids, labels, cut))
    return examples


def pack(examples: Iterable[Example], block: int) -> list[Example]:
    """Concatenate and cut into blocks of `block` tokens (the last one may be shorter)."""
    ids: list[int] = []
    labels: list[int] = []
    for example in examples:
        ids += example.input_ids
        labels += example.labels
    return [Example(ids[i : i + block], labels[i : i + block]) for i in range(0, len(ids), block)]


@dataclass
class TrainingData:
    examples: list[Example]
    counts: dict[str, int] = field(default_factory=dict)


def build_training_data(
    records: pd.DataFrame, tokenizer, settings: dict[str, Any], chunk: int = 1000
) -> TrainingData:
    """Render, tokenize, truncate (or pack) every record; count what was cut."""
    from tqdm.auto import tqdm

    bos = adds_bos(tokenizer)
    max_len = settings["max_seq_length"]
    examples: list[Example] = []
    rows = records.to_dict("records")
    with tqdm(
        total=len(rows), desc="tokenizing", unit="record", mininterval=progress_interval()
    ) as bar:
        for start in range(0, len(rows), chunk):
            rendered = [
                render(r, tokenizer, settings["format"]) for r in rows[start : start + chunk]
            ]
            examples += tokenize_rendered(
                tokenizer,
                rendered,
                max_seq_length=None if settings["packing"] else max_len,
                loss_on=settings["loss_on"],
                bos=bos,
            )
            bar.update(len(rendered))
    counts = {
        "records": len(examples),
        "truncated": sum(1 for e in examples if e.tokens_cut),
        "tokens": sum(len(e.input_ids) + e.tokens_cut for e in examples),
        "tokens_cut": sum(e.tokens_cut for e in examples),
    }
    if settings["packing"]:
        examples = pack(examples, max_len)
    counts["sequences"] = len(examples)
    counts["loss_tokens"] = sum(sum(1 for t in e.labels[1:] if t != IGNORE_INDEX) for e in examples)
    _check_loss(examples, counts, settings)
    return TrainingData(examples=examples, counts=counts)


def _check_loss(examples: list[Example], counts: dict[str, int], settings: dict[str, Any]) -> None:
    """Training with no token that carries loss would run at loss 0 and change nothing: stop.
    Sequences that carry none (their response cut off) are named in the log."""
    silent = sum(1 for e in examples if all(t == IGNORE_INDEX for t in e.labels[1:]))
    if counts["loss_tokens"] == 0:
        raise UserError(
            f"tune: none of the {counts['sequences']} training sequences has a token that carries "
            f"loss (loss_on: {settings['loss_on']}, max_seq_length: {settings['max_seq_length']}): "
            "every response lies past the cut; raise tune.max_seq_length or use loss_on: all"
        )
    if silent:
        log.warning(
            "%d of %d training sequences carry no loss (their response lies past max_seq_length "
            "%d) and teach nothing", silent, counts["sequences"], settings["max_seq_length"],
        )  # fmt: skip
