"""The tune stage: one instruct model tuned with LoRA on Dolly, the adapter written with its
training record and loss curve; a killed job rerun with the same settings resumes."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from finetox.io import UserError, apply_umask, check_writable, write_json, write_table
from finetox.loading import TRAINING_RECORD, versions
from finetox.resume import output_lock
from finetox.tune.data import DollyData, load_dolly
from finetox.tune.model import add_lora, load_base_for_training
from finetox.tune.render import TrainingData, build_training_data
from finetox.tune.settings import resolve_recipe
from finetox.tune.training import loss_curve, prepare_checkpoints, run_fingerprint, train

log = logging.getLogger("finetox.tune")

LOSS_CSV = "loss.csv"


def load_training_data(model: dict[str, Any], recipe: dict[str, Any]):
    """(Dolly data, tokenizer, training sequences) for `model` as the recipe says."""
    from finetox.loading import load_tokenizer

    data = load_dolly(recipe["data"], recipe["max_records"])
    tokenizer = load_tokenizer(
        model["source"],
        revision=model.get("revision"),
        trust_remote_code=model.get("trust_remote_code", False),
        padding_side="right",
    )
    training_data = build_training_data(data.records, tokenizer, recipe)
    counts = training_data.counts
    log.info(
        "Dolly data: %d of %d records, %d tokens; %d records cut at %d tokens (%d tokens lost); "
        "%d training sequences",
        counts["records"], data.available, counts["tokens"], counts["truncated"],
        recipe["max_seq_length"], counts["tokens_cut"], counts["sequences"],
    )  # fmt: skip
    return data, tokenizer, training_data


def _device_name(on: torch.device) -> str:
    return torch.cuda.get_device_name(on) if on.type == "cuda" else "cpu"


def _training_record(
    name: str, model: dict[str, Any], settings: dict[str, Any], recipe: dict[str, Any], *,
    base, targets: list[str], on: torch.device, data: DollyData, training_data: TrainingData,
    trainer, output, resumed_from: Path | None, curve: pd.DataFrame,
) -> dict[str, Any]:  # fmt: skip
    """What the adapter's finetox_training.json says about how it was made."""
    return {
        "tuned": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base": {
            "source": model["source"],
            "revision": model.get("revision"),
            "commit": getattr(base.config, "_commit_hash", None),
            "local": Path(model["source"]).exists(),
            "dtype": model.get("dtype", "auto"),
            "trust_remote_code": model.get("trust_remote_code", False),
        },
        "load_in_4bit": bool(recipe["load_in_4bit"]),
        "device": _device_name(on),
        "tune": settings,
        "resolved": {**recipe, "target_modules": targets},
        "requested_target_modules": list(settings["target_modules"]),
        "loss_on": recipe["loss_on"],
        "bos": "one bos token: the literal <s> where it is the tokenizer's bos, else the "
        "tokenizer's own bos in front when it adds one",
        "tokenizer": "unchanged: load the base model's tokenizer",
        "data": {**data.source, "available": data.available, **training_data.counts},
        "metrics": dict(output.metrics),
        "global_step": trainer.state.global_step,
        "resumed_from": resumed_from.name if resumed_from else None,
        "final_loss": float(curve["loss"].iloc[-1]) if len(curve) else None,
        "versions": versions(),
    }


def place_folder(folder: Path, out: Path) -> None:
    """Move the finished folder into place; an existing non-empty result is never replaced."""
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            raise UserError(f"{out}: already exists; remove it or choose another output folder")
    os.replace(folder, out)


def _save(
    peft_model, curve: pd.DataFrame, record: dict[str, Any], out: Path, timings: dict[str, float],
    started: float,
) -> None:  # fmt: skip
    """The adapter, its loss curve and training record (with the timings), written beside `out`
    and moved in."""
    tick = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        peft_model.save_pretrained(staging)
        sort_target_modules(staging)
        write_table(curve, staging / LOSS_CSV)
        timings["save_s"] = time.time() - tick
        timings["total_s"] = time.time() - started
        record["timings"] = {k: round(v, 2) for k, v in timings.items()}
        write_json(record, staging / TRAINING_RECORD)
        apply_umask(staging)  # mkdtemp made it private (0700), safetensors its weights (0600)
        place_folder(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _remove_checkpoints(checkpoints: Path) -> None:
    shutil.rmtree(checkpoints, ignore_errors=True)
    with contextlib.suppress(OSError):  # the shared parent, once no job has checkpoints
        checkpoints.parent.rmdir()


def _log_done(out: Path, record: dict[str, Any], curve: pd.DataFrame) -> None:
    log.info(
        "adapter %s: %d steps, loss %.4f -> %.4f, %s, %.1f s",
        out, record["global_step"],
        curve["loss"].iloc[0] if len(curve) else math.nan,
        curve["loss"].iloc[-1] if len(curve) else math.nan,
        "4-bit NF4 base" if record["load_in_4bit"] else "full-precision base",
        record["timings"]["total_s"],
    )  # fmt: skip


def tune_file(
    *,
    model: dict[str, Any],
    settings: dict[str, Any],
    out: str | os.PathLike,
    checkpoints: str | os.PathLike | None = None,
    callbacks: Sequence[Any] = (),
    keep_checkpoints: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Tune `model` (a model's settings: source, revision, dtype, trust_remote_code) with LoRA on
    Dolly as `settings` (the config's tune section) say; write the adapter, its training record
    and loss curve to `out`. Returns the training record."""
    from finetox.loading import check_model_folder

    started = time.time()
    out = Path(out)
    checkpoints = Path(checkpoints) if checkpoints else out.parent / ".checkpoints" / out.name
    # before the data are read, the model is loaded or a step is taken
    check_model_folder(model["source"])
    check_writable(out, "adapter folder", folder=True)
    check_writable(checkpoints, "checkpoints folder", folder=True)
    with output_lock(out, "finetox tune"):  # one run per output: a second one refuses
        if out.exists() and any(out.iterdir()):
            raise UserError(f"{out}: already exists; remove it or choose another output folder")
        return _tune(
            model, settings, out, checkpoints, callbacks=callbacks,
            keep_checkpoints=keep_checkpoints, threads=threads, started=started,
        )  # fmt: skip


def _tune(
    model: dict[str, Any], settings: dict[str, Any], out: Path, checkpoints: Path, *,
    callbacks: Sequence[Any], keep_checkpoints: bool, threads: int | None, started: float,
) -> dict[str, Any]:  # fmt: skip
    """tune_file's work, under the output's lock."""
    from finetox.loading import device

    timings = {}
    if threads:
        torch.set_num_threads(threads)
    on = device()
    recipe = resolve_recipe(settings, cuda=on.type == "cuda")

    tick = time.time()
    data, tokenizer, training_data = load_training_data(model, recipe)
    timings["data_s"] = time.time() - tick
    tick = time.time()
    base = load_base_for_training(model, recipe, on)
    peft_model, targets = add_lora(base, recipe)
    timings["load_s"] = time.time() - tick

    resume_from = prepare_checkpoints(checkpoints, run_fingerprint(model, recipe, data.source["sha256"]))  # fmt: skip
    if resume_from:
        log.info("resuming from %s", resume_from)
    tick = time.time()
    trainer, output = train(
        peft_model, tokenizer, training_data, recipe, checkpoints,
        resume_from=resume_from, callbacks=callbacks, on=on, keep_all=keep_checkpoints,
    )  # fmt: skip
    timings["train_s"] = time.time() - tick
    curve = loss_curve(trainer.state.log_history)

    record = _training_record(
        out.name, model, settings, recipe, base=base, targets=targets, on=on, data=data,
        training_data=training_data, trainer=trainer, output=output,
        resumed_from=resume_from, curve=curve,
    )  # fmt: skip
    _save(peft_model, curve, record, out, timings, started)
    if not keep_checkpoints:
        _remove_checkpoints(checkpoints)
    _log_done(out, record, curve)
    return record


def sort_target_modules(adapter: Path) -> None:
    """peft saves target_modules from a set, in an order that changes from process to process;
    sorted, two runs of the same tuning write the same adapter_config.json (and content hash)."""
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
