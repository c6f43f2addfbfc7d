"""Whether a published model is a LoRA adapter on a base or full weights, read from its files
before anything loads.

The authors published their Dolly models on the hub (the paper's Appendix A), each either a
LoRA adapter whose adapter_config.json names its base (by their names, Unsloth's pre-quantized
bnb-4bit repos) or full weights. `detect_layout` lists the files of a local folder or of the hub repository at the commit
its revision resolves to, decides which (or checks the layout a config declares), and says what
to load: the base and the adapter, or the weights as they are, and the tokenizer of the
published repository when it has one, else the base's. The loading is pinned to the listed
commit, so what is recorded is what ran.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetox.io import InputError

LAYOUTS = ("detect", "adapter", "full")
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class WeightsLayout:
    """What a published model holds and what loading it takes."""

    kind: str  # adapter or full
    source: str  # the published hub id or folder
    revision: str | None  # what loads: the commit its revision resolved to (hub), None (folder)
    commit: str | None  # provenance: the hub commit, or sha256: of the folder's files
    tokenizer_from: str  # published or base
    declared: str = "detect"  # the config's layout setting
    base: str | None = None  # adapter: the base its adapter_config.json names
    base_revision: str | None = None  # adapter: the base revision that file names

    @property
    def model(self) -> tuple[str, str | None]:
        """(source, revision) of the weights from_pretrained loads: the base of an adapter."""
        return (self.base, self.base_revision) if self.kind == "adapter" else self.published

    @property
    def published(self) -> tuple[str, str | None]:
        return self.source, self.revision

    @property
    def tokenizer(self) -> tuple[str, str | None]:
        return self.published if self.tokenizer_from == "published" else self.model

    @property
    def adapter(self) -> tuple[str, str | None] | None:
        return self.published if self.kind == "adapter" else None

    def identity(self) -> dict[str, Any]:
        """What decides the tokens, for the resumable parts' fingerprint."""
        return {"kind": self.kind, "commit": self.commit, "base": self.base,
                "base_revision": self.base_revision, "tokenizer_from": self.tokenizer_from}  # fmt: skip

    def record(self, base_commit: str | None, loaded_in_4bit: bool) -> dict[str, Any]:
        """The generations file's record of what was detected and loaded (the published model's
        own commit is the model record's `commit`)."""
        base = None
        if self.kind == "adapter":
            base = {"source": self.base, "revision": self.base_revision, "commit": base_commit}
        return {"setting": self.declared, "kind": self.kind, "base": base,
                "tokenizer_from": self.tokenizer_from, "loaded_in_4bit": loaded_in_4bit}  # fmt: skip


@dataclass(frozen=True)
class _Listing:
    """A published model's top-level file names, where they were read, and a reader of its JSON."""

    files: frozenset[str]
    where: str  # for messages: the folder, or the hub id at its commit
    revision: str | None
    commit: str | None
    read_json: Callable[[str], Any]


def detect_layout(
    source: str, revision: str | None = None, declared: str = "detect", slug: str | None = None
) -> WeightsLayout:
    """The layout of a published model (a local folder or a hub id), checked before it loads.

    Raises InputError naming the model when its files cannot be listed or read, hold neither
    an adapter nor full weights, hold both (and `declared` is detect), or lack what the declared
    layout needs (and `slug`, where given, in the hub's refusals)."""
    if declared not in LAYOUTS:
        raise InputError(f"model {source!r}: layout {declared!r}; use one of {', '.join(LAYOUTS)}")
    if Path(source).is_dir():
        listing = _folder_listing(source)
    else:
        listing = _hub_listing(source, revision, slug)
    kind = _decide(listing, declared)
    base, base_revision = _adapter_base(listing) if kind == "adapter" else (None, None)
    has_tokenizer = _has_tokenizer(listing.files)
    if kind == "full" and not has_tokenizer:
        raise InputError(
            f"model {listing.where}: full weights but no tokenizer files (none of "
            f"{', '.join(_tokenizer_names())}); the tokenizer cannot come from elsewhere"
        )
    layout = WeightsLayout(
        kind=kind, source=source, revision=listing.revision, commit=listing.commit,
        tokenizer_from="published" if has_tokenizer else "base", declared=declared,
        base=base, base_revision=base_revision,
    )  # fmt: skip
    _check_local_parts(layout)
    return layout


# ---------------------------------------------------------------------------------------------
# Listing the files


def _folder_listing(source: str) -> _Listing:
    from finetox.loading import resolved_commit

    folder = Path(source)
    try:
        files = frozenset(path.name for path in folder.iterdir() if path.is_file())
    except OSError as error:
        raise InputError(f"model {source!r}: cannot list the folder: {error}") from error

    def read_json(name: str) -> Any:
        return json.loads((folder / name).read_text())

    return _Listing(files, repr(source), None, resolved_commit(source), read_json)


def _hub_listing(source: str, revision: str | None, slug: str | None = None) -> _Listing:
    """The repository's files at the commit `revision` resolves to (offline: the commit the
    cache's refs name for it, listed from its cached snapshot)."""
    from huggingface_hub import hf_hub_download

    from finetox.hub.resolve import cache_folder, hub_problem, hub_token, resolve

    token = hub_token()
    context = f"slug {slug}" if slug else None
    resolved = resolve(source, revision, context=context)  # InputError, one line, naming it
    commit = resolved.commit
    try:
        if resolved.info is None:  # offline: the cached snapshot of the commit
            snapshot = cache_folder(source) / "snapshots" / commit
            files = frozenset(path.name for path in snapshot.iterdir() if path.is_file())
        else:
            siblings = resolved.info.siblings or ()
            files = frozenset(s.rfilename for s in siblings if "/" not in s.rfilename)
    except Exception as error:  # noqa: BLE001  (huggingface_hub and httpx errors alike)
        problem = hub_problem(error, source, revision, context=context)
        raise InputError(
            problem or f"model {source!r} (commit {commit}): cannot list its files: {error}"
        ) from error

    def read_json(name: str) -> Any:
        return json.loads(
            Path(hf_hub_download(source, name, revision=commit, token=token)).read_text()
        )

    return _Listing(files, f"{source!r} (commit {commit})", commit, commit, read_json)


# ---------------------------------------------------------------------------------------------
# Deciding


def _full_weights(files: frozenset[str]) -> list[str]:
    """Weight files of a whole model (an adapter's own weights are not)."""
    return sorted(
        name for name in files
        if name.endswith(WEIGHT_SUFFIXES) and not name.startswith("adapter_model")
        and name not in ("training_args.bin", "optimizer.bin")
    )  # fmt: skip


def _decide(listing: _Listing, declared: str) -> str:
    has_adapter = ADAPTER_CONFIG in listing.files
    full = _full_weights(listing.files)
    has_full = "config.json" in listing.files and bool(full)
    if declared == "detect" and has_adapter and has_full:
        raise InputError(
            f"model {listing.where}: holds both a LoRA adapter ({ADAPTER_CONFIG}) and full weights "
            f"({', '.join(full[:3])}); say which to load with layout: adapter or layout: full"
        )
    if declared in ("detect", "adapter") and has_adapter:
        adapter_weights = listing.files & set(ADAPTER_WEIGHTS)
        if not adapter_weights:
            raise InputError(
                f"model {listing.where}: {ADAPTER_CONFIG} but no adapter weights "
                f"({' or '.join(ADAPTER_WEIGHTS)})"
            )
        return "adapter"
    if declared in ("detect", "full") and has_full:
        return "full"
    wanted = {
        "detect": f"neither a LoRA adapter ({ADAPTER_CONFIG}) nor full weights (config.json "
        "and *.safetensors or *.bin)",
        "adapter": f"layout adapter, but no {ADAPTER_CONFIG}",
        "full": "layout full, but no config.json with *.safetensors or *.bin weights",
    }[declared]
    shown = ", ".join(sorted(listing.files)[:10]) or "nothing"
    raise InputError(f"model {listing.where}: {wanted} (found: {shown})")


def _adapter_base(listing: _Listing) -> tuple[str, str | None]:
    """The base model (and its revision) an adapter's adapter_config.json names."""
    from finetox.config import HUB_ID

    try:
        config = listing.read_json(ADAPTER_CONFIG)
    except Exception as error:  # noqa: BLE001  (unreadable file, bad JSON, failed download)
        raise InputError(f"model {listing.where}: cannot read {ADAPTER_CONFIG}: {error}") from error
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if not isinstance(base, str) or not base.strip():
        raise InputError(
            f"model {listing.where}: {ADAPTER_CONFIG} names no base model "
            "(base_model_name_or_path); the adapter cannot be loaded without it"
        )
    if not Path(base).is_dir() and not HUB_ID.match(base):
        raise InputError(
            f"model {listing.where}: {ADAPTER_CONFIG} names the base {base!r}: no such folder, "
            "and not a hub id (owner/name)"
        )
    return base, config.get("revision") or None


def _tokenizer_names() -> tuple[str, ...]:
    from finetox.loading import TOKENIZER_FILES, TOKENIZER_PATTERNS

    return (*TOKENIZER_FILES, *TOKENIZER_PATTERNS)


def _has_tokenizer(files: frozenset[str]) -> bool:
    return any(fnmatch.filter(files, name) for name in _tokenizer_names())


def _check_local_parts(layout: WeightsLayout) -> None:
    """Local folders hold what loading them needs (the hub answers for hub ids)."""
    from finetox.loading import check_model_folder

    if layout.kind == "full":
        check_model_folder(layout.source)
    else:
        check_model_folder(
            layout.base, tokenizer=layout.tokenizer_from == "base", what="base model"
        )
