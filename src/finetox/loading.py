"""Loading models and tokenizers the same way for hub ids and local folders.

Hub ids take an optional revision and a token from the environment (HF_TOKEN, or the
huggingface_hub login); the token is passed on, never logged. A Dolly model is its instruct base
plus a LoRA adapter, loaded in the precision the adapter was trained in (its training record says).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import torch

# the training record's home is finetox.training_record; loading reads it (as_trained precision)
from finetox.training_record import TRAINING_RECORD, read_training_record  # noqa: F401

log = logging.getLogger("finetox.loading")

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def device() -> torch.device:
    """CUDA when present, else the CPU. On a machine with several GPUs the process first takes
    one for itself (finetox.devices), so call this before anything else touches CUDA."""
    from finetox.devices import claim_gpu

    claim_gpu()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(
    dtype: str = "auto", on: torch.device | None = None, *, gpu_auto: str | None = None
) -> torch.dtype:
    """The one dtype policy of the model stages. auto: float32 on a CPU; on a GPU `gpu_auto`
    where the stage names one (scoring: float16, as the toxicity pipeline runs there), else
    bfloat16 where the GPU has it, else float16."""
    if dtype != "auto":
        return DTYPES[dtype]
    on = on or device()
    if on.type != "cuda":
        return torch.float32
    if gpu_auto:
        return DTYPES[gpu_auto]
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def versions() -> dict[str, str]:
    """The versions of what ran, recorded in the outputs of the model stages."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for package in ("finetox", "torch", "transformers", "peft", "bitsandbytes"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def hub_token() -> str | None:
    """The hub token from the environment, if any (never logged)."""
    from finetox.hub.resolve import hub_token as token

    return token()


def pin(
    source: str | os.PathLike, revision: str | None = None, *, kind: str = "model", slug=None
) -> tuple[str | None, str | None]:
    """(revision to load with, commit) of a source: a hub id's revision resolved to its commit
    (offline: the cached one), so the load is pinned to what is recorded; a local folder
    passes as it is, with no commit. Raises InputError naming the source (and `slug`)."""
    return pin_found(source, revision, kind=kind, slug=slug)[:2]


def pin_found(
    source: str | os.PathLike, revision: str | None = None, *, kind: str = "model", slug=None
) -> tuple[str | None, str | None, str | None]:
    """As `pin`, and the id the hub answered under when it differs from `source` (a renamed
    repository's new name; None otherwise, and always offline, where the cache cannot say)."""
    if Path(source).exists():
        return revision, None, None
    from finetox.hub.resolve import resolve

    resolved = resolve(str(source), revision, kind=kind, context=_context(slug))
    return resolved.commit, resolved.commit, resolved.found_as if resolved.renamed else None


def _context(slug: str | None) -> str | None:
    return f"slug {slug}" if slug else None


@contextlib.contextmanager
def hub_errors(source: str | os.PathLike, revision: str | None = None, *, slug=None):
    """A hub or network error of a load (transformers wraps them in a long OSError) as one
    InputError line naming the source and what to do; other errors pass unchanged."""
    from finetox.hub.resolve import hub_problem
    from finetox.io import InputError

    try:
        yield
    except (OSError, ValueError) as error:
        if isinstance(error, InputError) or Path(source).exists():
            raise
        problem = hub_problem(error, str(source), revision, context=_context(slug))
        if problem is None:
            raise
        raise InputError(problem) from error


def hub_kwargs(revision: str | None = None, trust_remote_code: bool = False) -> dict[str, Any]:
    """Arguments every from_pretrained call gets; the token comes from the environment."""
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    token = hub_token()
    if token:
        kwargs["token"] = token
    return kwargs


def folder_sha256(folder: str | os.PathLike) -> str:
    """A content hash of a local folder: sha256 over its files' sorted relative paths and bytes,
    so equal contents give equal hashes wherever the folder lies. Left out: hidden files and
    folders (.cache) and finetox's own build and training records (finetox_*.json), which hold
    timings and dates: they say how a model was made, not what it computes."""
    import hashlib

    root = Path(folder)
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and not (path.name.startswith("finetox_") and path.suffix == ".json")
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def resolved_commit(source: str | os.PathLike, model: Any = None) -> str | None:
    """What a model or classifier was loaded from, exactly: for a local folder `sha256:` and its
    content hash (folder_sha256); for a hub id the commit it was loaded at, which finetox's
    loaders keep on the config as _commit_hash (transformers 5 no longer does; it is left out
    when a config is saved), or None where the model was loaded otherwise."""
    if Path(source).is_dir():
        return "sha256:" + folder_sha256(source)
    config = getattr(model, "config", None)
    return getattr(config, "_commit_hash", None)


def found_as(model: Any) -> str | None:
    """The new name a renamed hub repository was found under (load_causal_lm keeps it on the
    config), or None."""
    return getattr(getattr(model, "config", None), "_found_as", None)


def describe_source(source: str, revision: str | None = None) -> str:
    """What a log may say about where a model came from (never the token)."""
    where = "local folder" if Path(source).exists() else "hub"
    return f"{source} ({where}{', revision ' + revision if revision else ''})"


# what a local model folder must hold before from_pretrained is asked to load it
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")
TOKENIZER_PATTERNS = ("*.tiktoken", "*sentencepiece*.model")


def _listing(folder: Path) -> str:
    names = sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return shown or "nothing"


def _has(folder: Path, patterns: tuple[str, ...]) -> bool:
    return any(path.is_file() for pattern in patterns for path in folder.glob(pattern))


def check_model_folder(
    source: str | os.PathLike, *, tokenizer: bool = True, weights: bool = True, what: str = "model"
) -> None:
    """When `source` is a local folder, that it holds what loading it needs: config.json, the
    tokenizer's files (with `tokenizer`) and the weights (with `weights`, every shard an index
    names). Without this, transformers reports a folder without tokenizer files as a missing
    sentencepiece or tiktoken package. Hub ids pass untouched (the hub answers for them)."""
    from finetox.io import InputError

    folder = Path(source)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError(f"{what} {str(source)!r}: is a file, not a model folder")
    files = {path.name for path in folder.iterdir() if path.is_file()}
    if "config.json" not in files:
        if "adapter_config.json" in files:
            return  # a peft adapter given as the model: transformers loads its base
        raise InputError(
            f"{what} {str(source)!r}: the folder has no config.json (found: {_listing(folder)}); "
            "save the model into it with save_pretrained"
        )
    if tokenizer and not (files & set(TOKENIZER_FILES) or _has(folder, TOKENIZER_PATTERNS)):
        raise InputError(
            f"{what} {str(source)!r}: the folder has no tokenizer files (none of "
            f"{', '.join(TOKENIZER_FILES)}; found: {_listing(folder)}); save the tokenizer into "
            "it with tokenizer.save_pretrained"
        )
    if not weights:
        return
    if not _has(folder, WEIGHT_PATTERNS):
        raise InputError(
            f"{what} {str(source)!r}: the folder has no weights (no *.safetensors or *.bin file; "
            f"found: {_listing(folder)}); copy the model's weight files into it"
        )
    for index in sorted(folder.glob("*.index.json")):
        try:
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (OSError, ValueError, AttributeError):
            continue
        missing = sorted(shard for shard in shards if not (folder / shard).exists())
        if missing:
            raise InputError(
                f"{what} {str(source)!r}: {index.name} names {len(missing)} weight file(s) the "
                f"folder lacks: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            )


def four_bit_config(compute_dtype: torch.dtype):
    """NF4 with double quantization, as QLoRA and the paper's 4-bit base."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def load_tokenizer(
    source: str,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    padding_side: str = "left",
    slug: str | None = None,
):
    """A tokenizer with a pad token (eos when the model has none, as the paper's loop); a hub
    id loads at the commit its revision resolves to. `slug` names the model in errors."""
    from transformers import AutoTokenizer

    check_model_folder(source, weights=False)
    load_at, _ = pin(source, revision, slug=slug)
    with hub_errors(source, revision, slug=slug):
        tokenizer = AutoTokenizer.from_pretrained(source, **hub_kwargs(load_at, trust_remote_code))
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def wants_4bit(load_in_4bit: bool | str, adapter: str | os.PathLike | None) -> bool:
    """True, False, or 'as_trained' (the adapter's training record decides)."""
    if load_in_4bit == "as_trained":
        return bool(adapter and read_training_record(adapter).get("load_in_4bit", False))
    return bool(load_in_4bit)


def load_causal_lm(
    source: str,
    *,
    revision: str | None = None,
    dtype: str = "auto",
    trust_remote_code: bool = False,
    load_in_4bit: bool | str = False,
    adapter: str | os.PathLike | None = None,
    adapter_revision: str | None = None,
    on: torch.device | None = None,
    slug: str | None = None,
):
    """A causal LM ready for inference: on `on` (default: CUDA if present), eval mode,
    with the LoRA adapter (a folder, or a hub id at `adapter_revision`) applied, not merged.
    A model whose config carries its own quantization (Unsloth's bnb-4bit repos) is placed by
    transformers, on the GPU when there is one. A hub id loads at the commit its revision
    resolves to, kept for resolved_commit; `slug` names the model in errors."""
    from transformers import AutoModelForCausalLM

    check_model_folder(source, tokenizer=False)
    on = on or device()
    torch_dtype = resolve_dtype(dtype, on)
    load_at, commit, found_as = pin_found(source, revision, slug=slug)
    kwargs = hub_kwargs(load_at, trust_remote_code)
    quantized = wants_4bit(load_in_4bit, adapter)
    if quantized:
        kwargs["quantization_config"] = four_bit_config(torch_dtype)
        kwargs["device_map"] = {"": on.index or 0} if on.type == "cuda" else {"": "cpu"}
    log.info(
        "loading %s as %s%s%s",
        describe_source(source, revision),
        str(torch_dtype).removeprefix("torch."),
        ", 4-bit NF4" if quantized else "",
        f", adapter {adapter}" if adapter else "",
    )
    with hub_errors(source, revision, slug=slug):
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **kwargs)
    if commit:
        model.config._commit_hash = commit
    if found_as:
        log.info("%s was found under its new name %s (the hub redirected)", source, found_as)
        model.config._found_as = found_as
    if getattr(model, "is_quantized", False) and not quantized:
        log.info("%s is quantized by its own config (quantization_config)", source)
    elif not quantized:
        model.to(on)
    if adapter:
        from peft import PeftModel

        adapter_at, _ = pin(adapter, adapter_revision, slug=slug)
        adapter_kwargs = hub_kwargs(adapter_at)
        del adapter_kwargs["trust_remote_code"]  # an adapter runs no code of its own
        with hub_errors(adapter, adapter_revision, slug=slug):
            model = PeftModel.from_pretrained(model, str(adapter), **adapter_kwargs)
    model.eval()
    return model
