"""The model a generate run uses: its settings, checked before anything loads; its tokenizer,
its context length and its weights, each loaded on its own (the prompts are checked against the
context before the weights load); and what the loaded model resolved to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finetox.generation.decoding import PROMPT_FORMATS, STOP_RULES, eos_ids, greedy_config
from finetox.generation.lengths import ON_LONG_PROMPT, context_length
from finetox.io import InputError, UserError
from finetox.loading import (
    check_model_folder,
    folder_sha256,
    found_as,
    hub_kwargs,
    resolved_commit,
)
from finetox.weights_layout import LAYOUTS, WeightsLayout, detect_layout


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


def check_settings(settings: dict[str, Any], adapter) -> WeightsLayout | None:
    """Settings and sources checked before anything loads; a published model's layout (what
    its files hold, finetox.weights_layout), or None for a model loaded as it is."""
    from finetox.config import HUB_ID

    if settings["prompt_format"] not in PROMPT_FORMATS:
        raise UserError(f"prompt_format {settings['prompt_format']!r}: use one of {PROMPT_FORMATS}")
    if settings["stop"] not in STOP_RULES:
        raise UserError(f"stop {settings['stop']!r}: use one of {STOP_RULES}")
    if settings.get("on_long_prompt", "error") not in ON_LONG_PROMPT:
        raise UserError(
            f"on_long_prompt {settings['on_long_prompt']!r}: use one of {ON_LONG_PROMPT}"
        )
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


def _sources(settings: dict[str, Any], adapter, layout: WeightsLayout | None):
    """(source, revision) of the weights, of the tokenizer and of the adapter. A published
    model loads as its `layout` says: a LoRA adapter on its base, or its weights, with its own
    tokenizer or else the base's, at the commit its files were listed at."""
    source, revision = settings["source"], settings.get("revision")
    if layout is None:
        return (source, revision), (source, revision), (adapter, None)
    return layout.model, layout.tokenizer, layout.adapter or (None, None)


@contextlib.contextmanager
def _loading(settings: dict[str, Any]) -> Iterator[None]:
    """Names the model when loading it fails (not found, no access, no network)."""
    try:
        yield
    except OSError as error:
        raise UserError(f"model {settings['source']!r}: cannot be loaded: {error}") from error


def load_generation_tokenizer(settings: dict[str, Any], layout: WeightsLayout | None = None):
    """The model's tokenizer, padding on the left."""
    from finetox.loading import load_tokenizer

    _, (source, revision), _ = _sources(settings, None, layout)
    with _loading(settings):
        return load_tokenizer(
            source,
            revision=revision,
            trust_remote_code=settings.get("trust_remote_code", False),
            padding_side="left",
            slug=settings.get("name"),
        )


def model_context(settings: dict[str, Any], tokenizer, layout: WeightsLayout | None = None):
    """(the model's context length or None, where it comes from), read from its config alone,
    before its weights load (finetox.generation.lengths.context_length)."""
    from transformers import AutoConfig

    (source, revision), _, _ = _sources(settings, None, layout)
    with _loading(settings):
        config = AutoConfig.from_pretrained(
            source, **hub_kwargs(revision, settings.get("trust_remote_code", False))
        )
    return context_length(config, tokenizer)


def load_weights(settings: dict[str, Any], adapter=None, layout: WeightsLayout | None = None):
    """The model for generation, in eval mode, with its adapter (or its layout's) applied."""
    from finetox.loading import load_causal_lm

    (source, revision), _, (adapter_source, adapter_revision) = _sources(settings, adapter, layout)
    with _loading(settings):
        return load_causal_lm(
            source,
            revision=revision,
            dtype=settings.get("dtype", "auto"),
            trust_remote_code=settings.get("trust_remote_code", False),
            load_in_4bit=settings.get("load_in_4bit", False),
            adapter=adapter_source,
            adapter_revision=adapter_revision,
            slug=settings.get("name"),
        )


def load_model(settings: dict[str, Any], adapter=None, layout: WeightsLayout | None = None):
    """(model, tokenizer) for generation: tokenizer padding on the left, model in eval mode."""
    tokenizer = load_generation_tokenizer(settings, layout)
    return load_weights(settings, adapter, layout), tokenizer


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
    if layout is None and found_as(lm):
        record["found_as"] = found_as(lm)
    if layout is not None:
        base_commit = resolved_commit(layout.base, lm) if layout.kind == "adapter" else None
        in_4bit = bool(getattr(lm, "is_loaded_in_4bit", False))
        record["layout"] = layout.record(base_commit=base_commit, loaded_in_4bit=in_4bit)
    return record
