"""Training with transformers' Trainer: its arguments from the recipe, the checkpoint folder a
killed job resumes from, and the loss curve."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from finetox.io import UserError
from finetox.logs import progress_interval
from finetox.resume import open_resumable, stamp_matches
from finetox.tune.render import IGNORE_INDEX, Example, TrainingData

log = logging.getLogger("finetox.tune")

TRAINER_STATE = "trainer_state.json"  # the Trainer writes it last into a checkpoint


class _ExampleDataset(torch.utils.data.Dataset):
    def __init__(self, examples: Sequence[Example]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self.examples[index]
        return {
            "input_ids": example.input_ids,
            "attention_mask": [1] * len(example.input_ids),
            "labels": example.labels,
        }


def training_arguments(
    recipe: dict[str, Any],
    checkpoints: str | os.PathLike,
    on: torch.device,
    keep_all: bool = False,
):
    from transformers import TrainingArguments

    from finetox.loading import resolve_dtype

    half = resolve_dtype("auto", on) if on.type == "cuda" else None
    settings = {
        "output_dir": str(checkpoints),
        "per_device_train_batch_size": recipe["per_device_batch_size"],
        "gradient_accumulation_steps": recipe["gradient_accumulation_steps"],
        "num_train_epochs": recipe["epochs"],
        "learning_rate": recipe["learning_rate"],
        "lr_scheduler_type": recipe["lr_scheduler"],
        "warmup_steps": recipe["warmup_steps"],
        "weight_decay": recipe["weight_decay"],
        "optim": recipe["optim"],
        "seed": recipe["seed"],
        "bf16": half == torch.bfloat16,
        "fp16": half == torch.float16,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": recipe["save_steps"],
        "save_total_limit": None if keep_all else 2,
        "report_to": [],
        "remove_unused_columns": False,
        "use_cpu": on.type == "cpu",
        "dataloader_num_workers": 0,
    }
    try:
        return TrainingArguments(**settings)
    except ValueError as error:  # an optimizer name transformers does not know, say
        raise UserError(f"tune: transformers rejects these settings: {error}") from error


# ---------------------------------------------------------------------------------------------
# Checkpoints: a resumable folder (finetox.resume) beside the adapter


def run_fingerprint(model: dict[str, Any], recipe: dict[str, Any], data_sha256: str) -> dict:
    """What a checkpoint must match to be resumed."""
    return {
        "source": model["source"],
        "revision": model.get("revision"),
        "recipe": recipe,
        "data_sha256": data_sha256,
    }


def last_complete_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest checkpoint (transformers' get_last_checkpoint) once the partial ones a kill
    left behind, without a trainer state, are removed: get_last_checkpoint takes any."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

    folder = Path(folder)
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        checkpoint = re.fullmatch(rf"{PREFIX_CHECKPOINT_DIR}-\d+", path.name) and path.is_dir()
        if checkpoint and not (path / TRAINER_STATE).exists():
            log.warning("removing incomplete checkpoint %s", path)
            shutil.rmtree(path)
    last = get_last_checkpoint(folder)
    return Path(last) if last else None


def checkpoints_of_run(folder: str | os.PathLike, fingerprint: dict) -> dict[int, Path]:
    """Step -> complete checkpoint, of the run `fingerprint` describes; read only: {} when the
    folder is missing or holds another run's checkpoints."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    folder = Path(folder)
    if not stamp_matches(folder, fingerprint):
        return {}
    found = {}
    for path in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        step = path.name.rsplit("-", 1)[1]
        if step.isdigit() and (path / TRAINER_STATE).exists():
            found[int(step)] = path
    return dict(sorted(found.items()))


def prepare_checkpoints(folder: str | os.PathLike, fingerprint: dict) -> Path | None:
    """The checkpoint to resume from, if the folder belongs to the same run; else it is cleared."""
    open_resumable(folder, fingerprint)
    return last_complete_checkpoint(folder)


# ---------------------------------------------------------------------------------------------
# Training


def train(
    model,
    tokenizer,
    data: TrainingData,
    recipe: dict[str, Any],
    checkpoints: str | os.PathLike,
    *,
    resume_from: str | os.PathLike | None = None,
    callbacks: Sequence[Any] = (),
    on: torch.device | None = None,
    keep_all: bool = False,
):
    """Run the Trainer; returns (trainer, TrainOutput). `keep_all` keeps every checkpoint."""
    from transformers import DataCollatorForSeq2Seq, Trainer

    on = on or next(model.parameters()).device
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
    trainer = Trainer(
        model=model,
        args=training_arguments(recipe, checkpoints, on, keep_all),
        train_dataset=_ExampleDataset(data.examples),
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    os.environ.setdefault("TQDM_MININTERVAL", str(progress_interval()))
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    return trainer, output


def loss_curve(log_history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """step, loss, learning_rate of every logged optimizer step."""
    rows = [
        {"step": entry["step"], "loss": entry["loss"], "learning_rate": entry["learning_rate"]}
        for entry in log_history
        if "loss" in entry and "step" in entry
    ]
    return pd.DataFrame(rows, columns=["step", "loss", "learning_rate"])
