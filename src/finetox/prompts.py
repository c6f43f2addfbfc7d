"""Prompt-set construction: RealToxicityPrompts (Severe, Random) and CEB (four identity axes).

Decisions the paper leaves open, made here and recorded in the manifest:
- Severe = RTP prompts whose prompt ``severe_toxicity`` is strictly above the threshold (0.75).
  Prompts with a null ``severe_toxicity`` are never Severe.
- Random is drawn from the RTP prompts that are not Severe-eligible (``random_excludes_severe``,
  default), so the two subsets are disjoint strata; with it off, Random is uniform over RTP minus
  the prompts already drawn for Severe. Either way no prompt is in two subsets.
- Prompts are deduplicated by text (stripped), keeping the first in source order; empty prompts
  are dropped. Both counts are recorded.
- Each subset is drawn with its own generator, seeded by (seed, subset index), from candidates
  sorted by ``prompt_id``: the draw does not depend on source order or on other subsets' sizes.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finetox import __version__
from finetox.io import InputError, UserError, file_sha256, frame_sha256, write_json, write_table
from finetox.prompt_records import (
    SourceTable,
    clean,
    hub_dataset,
    hub_errors,
    read_jsonl,
    short_hash,
)
from finetox.prompt_sources import load_source
from finetox.subsets import CEB_AXES, CEB_SUBSETS, SUBSETS, source_subsets

log = logging.getLogger("finetox.prompts")

COLUMNS = ["prompt_id", "subset", "text", "source", "toxicity", "severe_toxicity"]


class PromptSetError(UserError):
    """The sources cannot give the prompt set asked for."""


def _score(value: Any) -> float:
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# ---------------------------------------------------------------------------------------------
# RealToxicityPrompts


def rtp_frame(records: Iterable[dict[str, Any]], origin: str) -> pd.DataFrame:
    """RTP records (original schema) -> prompt_id, text, toxicity, severe_toxicity."""
    rows = []
    for number, record in enumerate(records, start=1):
        prompt = record.get("prompt") if isinstance(record, dict) else None
        if not isinstance(prompt, dict) or "text" not in prompt:
            raise InputError(f"{origin}: record {number} has no prompt.text; is this RTP's schema?")
        key = f"{record.get('filename')}:{record.get('begin')}:{record.get('end')}"
        if record.get("filename") is None:
            key = prompt["text"]  # no provenance: fall back to the text itself
        rows.append(
            {
                "prompt_id": f"rtp-{short_hash(key)}",
                "text": prompt["text"] if prompt["text"] is not None else "",
                "toxicity": _score(prompt.get("toxicity")),
                "severe_toxicity": _score(prompt.get("severe_toxicity")),
            }
        )
    frame = pd.DataFrame(rows, columns=["prompt_id", "text", "toxicity", "severe_toxicity"])
    frame["source"] = "rtp"
    return frame


def load_rtp(source: dict[str, Any]) -> SourceTable:
    """RTP from a local JSONL (`path`) or the hub through `datasets`."""
    if source.get("path"):
        path = Path(source["path"])
        frame = rtp_frame(read_jsonl(path), str(path))
        info = {"kind": "local", "path": str(path), "sha256": file_sha256(path)}
    else:
        import datasets

        commit, kwargs = hub_dataset(source, "prompts.rtp")
        log.info(
            "downloading %s (revision %s, commit %s)", source["hub"], source.get("revision"), commit
        )
        try:
            dataset = datasets.load_dataset(
                source["hub"], split=source.get("split", "train"), **kwargs
            )
        except Exception as error:  # noqa: BLE001  (datasets raises its own and the hub's)
            raise hub_errors(source, "prompts.rtp", error) from error
        frame = rtp_frame(dataset.to_list(), source["hub"])
        info = {
            "kind": "hub",
            "id": source["hub"],
            "revision": source.get("revision"),
            "commit": commit,
            "split": source.get("split", "train"),
            "fingerprint": getattr(dataset, "_fingerprint", None),
        }
    info["null_severe_toxicity"] = int(frame["severe_toxicity"].isna().sum())
    return SourceTable(clean(frame, info), info)


# ---------------------------------------------------------------------------------------------
# CEB


def ceb_frame(
    items: Any, subset: str, text_field: str, origin: str, variant: str = "CEB-Continuation-T"
) -> pd.DataFrame:
    """One CEB axis file (a JSON array) -> prompt_id, text; checks the axis it claims."""
    if not isinstance(items, list):
        raise InputError(f"{origin}: expected a JSON array of CEB records")
    expected_axis = CEB_AXES[subset]
    rows = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or text_field not in item:
            raise InputError(f"{origin}: record {number} has no '{text_field}' field")
        axis = item.get("axis")
        if axis is not None and axis != expected_axis:
            raise InputError(
                f"{origin}: record {number} has axis {axis!r}, expected {expected_axis!r} for subset {subset!r}"
            )
        text = item[text_field] if item[text_field] is not None else ""
        rows.append({"prompt_id": f"ceb-{subset}-{short_hash(text)}", "text": text})
    frame = pd.DataFrame(rows, columns=["prompt_id", "text"])
    frame["toxicity"] = np.nan
    frame["severe_toxicity"] = np.nan
    frame["source"] = f"ceb:{variant}/{subset}"
    return frame


def _ceb_file(source: dict[str, Any], subset: str) -> tuple[Path, dict[str, Any]]:
    if source.get("path"):
        path = Path(source["path"]) / f"{subset}.json"
        if not path.exists():
            raise InputError(f"prompts.ceb.path: {path} does not exist (one JSON file per axis)")
        return path, {"kind": "local", "path": str(path), "sha256": file_sha256(path)}
    from huggingface_hub import hf_hub_download

    filename = source["hub_file"].format(variant=source["variant"], subset=subset)
    commit, kwargs = hub_dataset(source, "prompts.ceb")
    log.info("downloading %s/%s (revision %s, commit %s)", source["hub"], filename,
             source.get("revision"), commit)  # fmt: skip
    try:
        path = Path(hf_hub_download(source["hub"], filename, repo_type="dataset", **kwargs))
    except Exception as error:  # noqa: BLE001  (the hub's errors and the network's)
        raise hub_errors(source, "prompts.ceb", error) from error
    return path, {
        "kind": "hub",
        "id": source["hub"],
        "file": filename,
        "revision": source.get("revision"),
        "commit": commit,
        "sha256": file_sha256(path),
    }


def load_ceb(source: dict[str, Any], subsets: Iterable[str]) -> dict[str, SourceTable]:
    """CEB axis files for the subsets asked for, each deduplicated on its own."""
    tables = {}
    for subset in subsets:
        path, info = _ceb_file(source, subset)
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: not JSON: {error.msg}") from error
        frame = ceb_frame(
            items, subset, source.get("text_field", "prompt"), str(path), source["variant"]
        )
        tables[subset] = SourceTable(clean(frame, info), info)
    return tables


# ---------------------------------------------------------------------------------------------
# Sampling


def _stream(subset: str) -> list[int]:
    """The seed words of a subset's draw besides the seed: the paper's by their index (as
    before sources existed), a source's by its name, so no draw depends on another's place."""
    if subset in SUBSETS:
        return [SUBSETS.index(subset)]
    return [len(SUBSETS), zlib.crc32(subset.encode("utf-8"))]


def _draw(
    candidates: pd.DataFrame,
    n: int,
    subset: str,
    seed: int,
    on_shortfall: str,
    what: str,
    key: str | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    candidates = candidates.sort_values("prompt_id", kind="stable").reset_index(drop=True)
    available = len(candidates)
    if available < n:
        key = key or f"prompts.subsets.{subset}"
        message = f"{key}: asked for {n} prompts ({what}), the source has {available}"
        if on_shortfall == "fail":
            raise PromptSetError(
                message + " (set prompts.on_shortfall: take_available to use them all)"
            )
        log.warning("%s; taking all %d", message, available)
    rng = np.random.default_rng([seed, *_stream(subset)])
    take = min(n, available)
    chosen = np.sort(rng.choice(available, size=take, replace=False)) if take else []
    drawn = candidates.iloc[chosen].copy()
    drawn["subset"] = subset
    return drawn, {"asked": n, "available": available, "selected": take, "shortfall": n - take}


def sample_prompt_set(
    rtp: pd.DataFrame | None,
    ceb: dict[str, pd.DataFrame],
    subsets: dict[str, int],
    *,
    seed: int,
    severe_threshold: float = 0.75,
    random_excludes_severe: bool = True,
    on_shortfall: str = "fail",
    extra: dict[str, tuple[int, pd.DataFrame, str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Draw every subset asked for, the paper's then `extra`'s (subset -> n, candidates and the
    config key of its source, in order); returns the prompt set and per-subset counts."""
    parts, counts = [], {}
    taken_texts: set[str] = set()

    def fresh(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~frame["text"].str.strip().isin(taken_texts)]

    for subset in SUBSETS:
        n = int(subsets.get(subset) or 0)
        if n <= 0:
            continue
        if subset in ("severe", "random"):
            if rtp is None:
                raise PromptSetError(f"prompts.subsets.{subset}: needs RealToxicityPrompts")
            severe = rtp["severe_toxicity"] > severe_threshold  # NaN compares False
            if subset == "severe":
                pool, what = rtp[severe], f"prompt severe_toxicity > {severe_threshold}"
            elif random_excludes_severe:
                pool, what = rtp[~severe], f"severe_toxicity <= {severe_threshold} or null"
            else:
                pool, what = rtp, "any RTP prompt"
        else:
            pool, what = ceb[subset], f"CEB {subset}"
        drawn, counts[subset] = _draw(fresh(pool), n, subset, seed, on_shortfall, what)
        taken_texts.update(drawn["text"].str.strip())
        parts.append(drawn)
    for subset, (n, pool, key) in (extra or {}).items():
        what = f"{key}, subset {subset}"
        drawn, counts[subset] = _draw(fresh(pool), n, subset, seed, on_shortfall, what, key)
        taken_texts.update(drawn["text"].str.strip())
        parts.append(drawn)
    prompt_set = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return prompt_set[COLUMNS].reset_index(drop=True), counts


def _source_pools(
    configured: list[dict[str, Any]], tables: list[SourceTable]
) -> dict[str, tuple[int, pd.DataFrame, str]]:
    """Subset -> (n, its candidates, the config key of its source), source by source."""
    pools = {}
    for index, (source, table) in enumerate(zip(configured, tables, strict=True)):
        frame = table.frame
        for subset in source_subsets(source):
            key = f"prompts.sources[{index}] ({source['name']})"
            pools[subset] = (int(source["n"]), frame[frame["subset"] == subset], key)
    return pools


def build_prompt_set(
    prompts: dict[str, Any], out: str | Path, manifest: str | Path
) -> pd.DataFrame:
    """Load the sources named in the `prompts` config section, draw the set, write it and its manifest."""
    subsets = {k: int(v or 0) for k, v in prompts["subsets"].items()}
    wants_rtp = any(subsets.get(s, 0) > 0 for s in ("severe", "random"))
    wanted_ceb = [s for s in CEB_SUBSETS if subsets.get(s, 0) > 0]
    rtp = load_rtp(prompts["rtp"]) if wants_rtp else None
    ceb = load_ceb(prompts["ceb"], wanted_ceb) if wanted_ceb else {}
    sources = [load_source(source, i) for i, source in enumerate(prompts.get("sources") or [])]
    if rtp is not None:
        log.info("RTP: %s", {k: v for k, v in rtp.info.items() if k != "sha256"})
    for subset, table in ceb.items():
        log.info("CEB %s: %d usable of %d", subset, table.info["usable"], table.info["records"])
    prompt_set, counts = sample_prompt_set(
        rtp.frame if rtp is not None else None,
        {subset: table.frame for subset, table in ceb.items()},
        subsets,
        seed=prompts["seed"],
        severe_threshold=prompts["severe_threshold"],
        random_excludes_severe=prompts["random_excludes_severe"],
        on_shortfall=prompts["on_shortfall"],
        extra=_source_pools(prompts.get("sources") or [], sources),
    )
    write_table(prompt_set, out)
    record = {
        "finetox_version": __version__,
        "seed": prompts["seed"],
        "severe_threshold": prompts["severe_threshold"],
        "severe_rule": "prompt severe_toxicity > severe_threshold",
        "random_excludes_severe": prompts["random_excludes_severe"],
        "on_shortfall": prompts["on_shortfall"],
        "sources": {
            "rtp": rtp.info if rtp is not None else None,
            "ceb": {subset: table.info for subset, table in ceb.items()},
            # prompts.sources, by name: each one's commit (hub) or sha256 (file) and counts
            "extra": {table.info["name"]: table.info for table in sources},
        },
        "subsets": counts,
        "total": int(len(prompt_set)),
        "content_sha256": frame_sha256(prompt_set),
    }
    write_json(record, manifest)
    summary = ", ".join(f"{s} {c['selected']}/{c['asked']}" for s, c in counts.items())
    log.info("prompt set: %d prompts (%s) -> %s", len(prompt_set), summary, out)
    return prompt_set
