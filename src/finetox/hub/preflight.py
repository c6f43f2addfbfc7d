"""Before GPU hours: every hub source of a config resolved, its access checked, what the local
cache already holds listed, and the download summed, with every problem at once.

Sources: each model the study evaluates (dolly_published ones when switched on; a published
LoRA adapter's base, named by its adapter_config.json, which is read: a small JSON file, no
weights), each classifier, and each data set a stage reads (RTP, the CEB files of the subsets
asked for, Dolly when a model is tuned). Local folders and files are not the hub's and are left
out.

The files counted are those a load fetches (FILES_RULE): for a model the top-level config,
generation config, tokenizer and chat template files, and its weights: the *.safetensors files
when the repository has any (transformers prefers them), else the *.bin ones (never
training_args.bin or optimizer files); for an adapter adapter_config.json and its weights the
same way; for RTP and Dolly every file of the repository (datasets reads the data files of its
default configuration, and its README); for CEB the axis files asked for. Online the sizes come
from the repository's file listing at the resolved commit; `offline` looks at the cache alone
(HF_HUB_OFFLINE is set for the check) and reports what a load would miss there.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

from finetox.errors import InputError
from finetox.hub import resolve as hub

FILES_RULE = (
    "models: config, generation config, tokenizer and chat template files and the weights "
    "(*.safetensors where the repository has any, else *.bin), top level only; adapters: "
    "adapter_config.json and adapter weights; RTP and Dolly: every file; CEB: the axis files"
)
MODEL_FILES = (
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "vocab.txt", "merges.txt", "spiece.model", "chat_template.jinja", "chat_template.json",
    "adapter_config.json", "preprocessor_config.json",
)  # fmt: skip
MODEL_PATTERNS = ("*.tiktoken", "*sentencepiece*.model")
NOT_WEIGHTS = ("training_args.bin", "optimizer.bin", "optimizer.pt", "scheduler.pt")


@dataclass
class Source:
    """One repository a study reads, and what preflight found."""

    kind: str  # model or dataset
    id: str
    revision: str | None
    used_by: list[str]  # slugs, classifier names, config keys
    files_wanted: tuple[str, ...] | None = None  # None: by the model rule or every file
    every_file: bool = False
    commit: str | None = None
    found_as: str | None = None
    gated: str | bool = False
    files: dict[str, int] = field(default_factory=dict)  # to fetch: name -> size
    cached: set[str] = field(default_factory=set)
    problem: str | None = None

    @property
    def context(self) -> str:
        shown = ", ".join(self.used_by[:3]) + (" ..." if len(self.used_by) > 3 else "")
        return f"used by {shown}"

    @property
    def size(self) -> int:
        return sum(self.files.values())

    @property
    def to_download(self) -> int:
        return sum(size for name, size in self.files.items() if name not in self.cached)


# ---------------------------------------------------------------------------------------------
# What a config reads


def config_sources(study) -> list[Source]:
    """The hub repositories of a study, each once (several slugs may share one)."""
    found: dict[tuple[str, str, str | None], Source] = {}

    def add(kind, repo_id, revision, user, **extra) -> None:
        if not repo_id or Path(str(repo_id)).exists():
            return
        key = (kind, repo_id, revision)
        if key in found:
            if user not in found[key].used_by:
                found[key].used_by.append(user)
            return
        found[key] = Source(kind, repo_id, revision, [user], **extra)

    for spec in study.models.values():
        if not spec.local:
            add("model", spec.source, spec.revision, spec.slug)
    config = study.config
    for classifier in config["scoring"]["classifiers"]:
        add("model", classifier.get("id"), classifier.get("revision"), classifier["name"])
    prompts = config["prompts"]
    subsets = {name for name, n in prompts["subsets"].items() if n}
    rtp, ceb = prompts["rtp"], prompts["ceb"]
    if not rtp.get("path") and subsets & {"severe", "random"}:
        add("dataset", rtp["hub"], rtp.get("revision"), "prompts.rtp", every_file=True)
    axes = sorted(subsets - {"severe", "random"})
    if not ceb.get("path") and axes:
        files = tuple(ceb["hub_file"].format(variant=ceb["variant"], subset=a) for a in axes)
        add("dataset", ceb["hub"], ceb.get("revision"), "prompts.ceb", files_wanted=files)
    for source in prompts.get("sources") or []:  # every file: the split's files are not named
        if not source.get("path"):
            add("dataset", source["hub"], source.get("revision"), f"prompts.sources.{source['name']}",
                every_file=True)  # fmt: skip
    data = config["tune"]["data"]
    if study.tuned_sources() and not data.get("path"):
        add("dataset", data["hub"], data.get("revision"), "tune.data", every_file=True)
    return list(found.values())


def files_to_fetch(names: dict[str, int]) -> dict[str, int]:
    """Of a model repository's files (name -> size), those a load fetches (FILES_RULE)."""
    top = {name: size for name, size in names.items() if "/" not in name}
    wanted = {
        name: size for name, size in top.items()
        if name in MODEL_FILES or any(fnmatch.fnmatch(name, p) for p in MODEL_PATTERNS)
    }  # fmt: skip
    for prefix in ("adapter_model", None):
        weights = {
            name: size for name, size in top.items()
            if (name.startswith("adapter_model") if prefix else not name.startswith("adapter_model"))
            and name not in NOT_WEIGHTS
        }  # fmt: skip
        safetensors = {n: s for n, s in weights.items() if n.endswith(".safetensors")}
        chosen = safetensors or {n: s for n, s in weights.items() if n.endswith(".bin")}
        suffix = ".safetensors" if safetensors else ".bin"
        wanted.update(chosen)
        for index, size in weights.items():
            if index.endswith(suffix + ".index.json") and chosen:
                wanted[index] = size
    return wanted


# ---------------------------------------------------------------------------------------------
# Checking one source


def check_online(source: Source, api) -> None:
    """Resolve, list the files with their sizes, check access with a HEAD of one file, and look
    the files up in the cache. Sets `problem` instead of raising."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.hf_api import RepoFile

    context = source.context
    try:
        resolved = hub.resolve(source.id, source.revision, kind=source.kind, context=context)
    except InputError as error:
        source.problem = str(error)
        return
    source.commit, source.found_as = resolved.commit, resolved.found_as
    token = hub.hub_token()
    try:
        info = api.repo_info(source.id, revision=source.commit, repo_type=source.kind, token=token)
        source.gated = getattr(info, "gated", False) or False
        tree = api.list_repo_tree(
            source.id, revision=source.commit, repo_type=source.kind, recursive=True, token=token
        )
        listed = {entry.path: entry.size for entry in tree if isinstance(entry, RepoFile)}
        source.files = _chosen(source, listed)
        if source.problem:
            return
        probe = next(iter(sorted(source.files)), None)
        if probe:  # the hub answers a gated repository's listing, not its files
            url = hf_hub_url(source.id, probe, revision=source.commit, repo_type=source.kind)
            get_hf_file_metadata(url, token=token)
    except Exception as error:  # noqa: BLE001  (the hub's and the network's errors)
        problem = hub.hub_problem(error, source.id, source.revision, source.kind, context)
        source.problem = (
            problem or f"{hub.what(source.id, source.revision, source.kind, context)}: {error}"
        )
        return
    source.cached = _cached(source)


def _chosen(source: Source, listed: dict[str, int]) -> dict[str, int]:
    named = hub.what(source.id, source.revision, source.kind, source.context)
    if source.every_file:
        return {n: s for n, s in listed.items() if n != ".gitattributes"}
    if source.files_wanted is not None:
        missing = [name for name in source.files_wanted if name not in listed]
        if missing:
            source.problem = f"{named}: no file {missing[0]!r} at commit {source.commit}"
        return {name: listed[name] for name in source.files_wanted if name in listed}
    chosen = files_to_fetch(listed)
    if "config.json" not in chosen and "adapter_config.json" not in chosen:
        source.problem = (
            f"{named}: neither config.json nor adapter_config.json at commit {source.commit}"
        )
    return chosen


def _cached(source: Source) -> set[str]:
    from huggingface_hub import try_to_load_from_cache

    found = set()
    for name in source.files:
        path = try_to_load_from_cache(
            source.id, name, revision=source.commit, repo_type=source.kind
        )
        if isinstance(path, str):
            found.add(name)
    return found


def check_offline(source: Source) -> None:
    """The commit the cache holds for the source and the files a load needs there."""
    context = source.context
    named = hub.what(source.id, source.revision, source.kind, context)
    commit = hub.cached_commit(source.id, source.revision, source.kind)
    if commit is None:
        source.problem = (
            f"{named}: not in the local cache ({hub.cache_folder(source.id, source.kind)}); "
            "run the study (or its download) once online to fill the cache"
        )
        return
    source.commit, source.found_as = commit, source.id
    snapshot = hub.cache_folder(source.id, source.kind) / "snapshots" / commit
    listed = {
        path.relative_to(snapshot).as_posix(): path.stat().st_size
        for path in snapshot.rglob("*") if path.is_file()
    }  # fmt: skip
    source.files = _chosen(source, listed)
    source.cached = set(source.files)
    if source.problem or source.kind == "dataset":
        return
    weights = [n for n in source.files if n.endswith((".safetensors", ".bin"))]
    for index in [n for n in source.files if n.endswith(".index.json")]:
        try:
            shards = set(json.loads((snapshot / index).read_text()).get("weight_map", {}).values())
        except (OSError, ValueError):
            shards = set()
        missing = sorted(shards - set(listed))
        if missing:
            source.problem = f"{named}: the cache lacks {len(missing)} shard(s) {index} names, first {missing[0]}"
            return
    if not weights:
        source.problem = f"{named}: the cache holds no weights of commit {commit}"


# ---------------------------------------------------------------------------------------------
# The whole config


def adapter_bases(sources: list[Source], study, offline: bool = False) -> list[Source]:
    """The bases the published LoRA adapters of `sources` name (read from adapter_config.json,
    from the cache, or online), as sources of their own."""
    published = {s.source for s in study.models.values() if s.role == "dolly_published"}
    bases: dict[tuple[str, str | None], Source] = {}
    for source in sources:
        if source.id not in published or source.problem:
            continue
        if "adapter_config.json" not in source.files:
            continue
        try:
            config = json.loads(_adapter_config(source, offline).read_text())
        except Exception as error:  # noqa: BLE001  (reported as the source's problem)
            named = hub.what(source.id, source.revision, "model", source.context)
            source.problem = f"{named}: cannot read adapter_config.json: {error}"
            continue
        base = config.get("base_model_name_or_path")
        if not isinstance(base, str) or Path(base).exists():
            continue
        key = (base, config.get("revision") or None)
        user = "base of " + ", ".join(source.used_by)
        if key in bases:
            bases[key].used_by.append(user)
        elif not any((s.id, s.revision) == key for s in sources):
            bases[key] = Source("model", base, key[1], [user])
    return list(bases.values())


def _adapter_config(source: Source, offline: bool) -> Path:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(source.id, "adapter_config.json", revision=source.commit)
    if isinstance(cached, str):
        return Path(cached)
    if offline:
        raise FileNotFoundError("not in the local cache")
    return Path(
        hf_hub_download(source.id, "adapter_config.json", revision=source.commit,
                        token=hub.hub_token())
    )  # fmt: skip


def preflight(config, *, offline: bool = False) -> list[Source]:
    """Every source of the config (a file, or a loaded Study), checked online or against the
    cache alone."""
    from finetox.config import load_study_file

    study = config if hasattr(config, "models") else load_study_file(config)
    sources = config_sources(study)
    check = check_offline if offline else _online_checker()
    for source in sources:
        check(source)
    bases = adapter_bases(sources, study, offline)
    for source in bases:
        check(source)
    return sources + bases


def _online_checker():
    from huggingface_hub import HfApi

    api = HfApi()
    return lambda source: check_online(source, api)


def problems(sources: list[Source]) -> list[str]:
    return [source.problem for source in sources if source.problem]


def require_ready(study, out: str | Path | None = None) -> list[Source]:
    """The workflow's first step: preflight of a loaded Study (online, or against the cache
    when HF_HUB_OFFLINE is set); every problem at once as a ConfigError, one line each. With
    `out`, what was found is written there as JSON (only when there is no problem), for the
    rule's output and the report."""
    from finetox.errors import ConfigError

    sources = preflight(study, offline=hub.offline())
    found = problems(sources)
    if found:
        raise ConfigError(found)
    if out is not None:
        rows = [{"kind": s.kind, "id": s.id, "revision": s.revision, "commit": s.commit,
                 "found_as": s.found_as, "gated": s.gated, "used_by": s.used_by,
                 "files": s.files, "cached": sorted(s.cached)} for s in sources]  # fmt: skip
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps({"offline": hub.offline(), "sources": rows}, indent=1))
    return sources
