"""A point of a finished tuning run (config tune.trajectory): the adapter as it was at that
optimizer step, taken from the run's kept checkpoint at that step, or trained on to it from the
nearest earlier one with the run's own schedule, so it is the state the run passed through."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from finetox.io import UserError, apply_umask, check_writable, write_json, write_table
from finetox.loading import TRAINING_RECORD, read_training_record, versions
from finetox.resume import output_lock
from finetox.trajectory import point_step
from finetox.tune.run import LOSS_CSV, load_training_data, place_folder, sort_target_modules
from finetox.tune.settings import resolve_recipe
from finetox.tune.training import (
    TRAINER_STATE,
    checkpoints_of_run,
    loss_curve,
    run_fingerprint,
    train,
)

log = logging.getLogger("finetox.tune")

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def stop_at_step(step: int):
    """A Trainer callback that ends training once `step` optimizer steps are done."""
    from transformers import TrainerCallback

    class StopAtStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                control.should_training_stop = True
            return control

    return StopAtStep()


def _final_step(final: Path) -> int:
    record = read_training_record(final)
    if "global_step" not in record:
        raise UserError(f"{final}: no {TRAINING_RECORD} with the run's global_step")
    return int(record["global_step"])


def tune_point(
    *,
    model: dict[str, Any],
    settings: dict[str, Any],
    final: str | os.PathLike,
    point: str,
    out: str | os.PathLike,
    checkpoints: str | os.PathLike,
    threads: int | None = None,
) -> dict[str, Any]:
    """Write the adapter of trajectory point `point` (a finetox.trajectory label) of the run
    whose final adapter is `final` to `out`; returns its record."""
    started = time.time()
    final, out = Path(final), Path(out)
    try:
        step = point_step(point, _final_step(final))
    except ValueError as error:
        raise UserError(f"tune.trajectory: {error}") from error
    check_writable(out, "adapter folder", folder=True)
    with output_lock(out, "finetox tune point"):
        if out.exists() and any(out.iterdir()):
            raise UserError(f"{out}: already exists; remove it or choose another output folder")
        if threads:
            torch.set_num_threads(threads)
        return _make_point(model, settings, final, point, step, out, Path(checkpoints), started)


def _make_point(
    model: dict[str, Any], settings: dict[str, Any], final: Path, point: str, step: int,
    out: Path, checkpoints: Path, started: float,
) -> dict[str, Any]:  # fmt: skip
    from finetox.loading import device

    on = device()
    recipe = resolve_recipe(settings, cuda=on.type == "cuda")
    data, tokenizer, training_data = load_training_data(model, recipe)
    kept = checkpoints_of_run(checkpoints, run_fingerprint(model, recipe, data.source["sha256"]))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=_parent(out)))
    try:
        if step in kept:
            how = f"copied from the run's checkpoint at step {step}"
            curve = _copy_checkpoint(kept[step], staging)
        else:
            earlier = [s for s in kept if s < step]
            start = kept[earlier[-1]] if earlier else None
            how = (
                f"trained on from the run's checkpoint at step {earlier[-1]} to step {step}"
                if earlier
                else f"trained from step 0 to step {step} (no kept checkpoint of the run before it)"
            )
            log.info("point %s: %s", point, how)
            curve = _train_to(model, recipe, tokenizer, training_data, start, step, staging, on)
        record = _point_record(final, point, step, how, started)
        write_table(curve, staging / LOSS_CSV)
        write_json(record, staging / TRAINING_RECORD)
        apply_umask(staging)
        place_folder(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    log.info("adapter %s: point %s = step %d of %s; %s", out, point, step, final.name, how)
    return record


def _parent(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.parent


def _copy_checkpoint(checkpoint: Path, staging: Path) -> pd.DataFrame:
    for name in ADAPTER_FILES:
        if not (checkpoint / name).exists():
            raise UserError(f"{checkpoint}: no {name}; not a checkpoint of a LoRA run")
        shutil.copy2(checkpoint / name, staging / name)
    sort_target_modules(staging)
    state = json.loads((checkpoint / TRAINER_STATE).read_text())
    return loss_curve(state.get("log_history", []))


def _train_to(
    model, recipe, tokenizer, training_data, start: Path | None, step: int, staging: Path, on
) -> pd.DataFrame:
    from finetox.tune.model import add_lora, load_base_for_training

    base = load_base_for_training(model, recipe, on)
    peft_model, _ = add_lora(base, recipe)
    with tempfile.TemporaryDirectory(prefix=".checkpoints.", dir=staging.parent) as scratch:
        trainer, _ = train(
            peft_model, tokenizer, training_data, recipe, scratch,
            resume_from=start, callbacks=[stop_at_step(step)], on=on,
        )  # fmt: skip
    if trainer.state.global_step != step:
        raise UserError(f"training stopped at step {trainer.state.global_step}, not at {step}")
    peft_model.save_pretrained(staging)
    sort_target_modules(staging)
    return loss_curve(trainer.state.log_history)


def _point_record(final: Path, point: str, step: int, how: str, started: float) -> dict:
    run = read_training_record(final)
    return {
        "tuned": final.name,
        "point": point,
        "global_step": step,
        "final_step": run["global_step"],
        "made": how,
        "load_in_4bit": run.get("load_in_4bit", False),
        "base": run.get("base"),
        "resolved": run.get("resolved"),
        "run": {"created": run.get("created")},  # which run of the tuned model it belongs to
        "versions": versions(),
        "timings": {"total_s": round(time.time() - started, 2)},
    }
