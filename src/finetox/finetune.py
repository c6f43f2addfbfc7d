"""Dolly LoRA tuning: the authors' recipe with transformers' Trainer and peft.

The recipe (config `lora`, defaults = the authors' unsloth/trl notebook): base in 4-bit NF4 when CUDA
is present, LoRA r=16, alpha=16, dropout 0, no bias, on the q/k/v/o/gate/up/down projections;
learning rate 2e-4 with linear decay after 5 warm-up steps, weight decay 0.01, per-device batch 2 x
gradient accumulation 8, one epoch, 8-bit AdamW on CUDA (AdamW on CPU), seed 3407, sequences of at
most 2048 tokens, no packing.

Decisions the paper leaves open, recorded in every adapter's training record:

- Loss on the whole sequence (`loss_on: all`, the default): the authors trained with trl's
  SFTTrainer on a plain text field, which computes the loss on every token, prompt included.
  `loss_on: response` masks the instruction (and context) so only response tokens count.
  Padding never counts; eos tokens inside a sequence do (the pad token may be the eos token, so
  padding is masked by position, not by id).
- Rendering `paper_inst` is the authors' text, character for character:
  `<s>[INST] {instruction}` + `Here's some context: {context}` (only when the context is not
  empty, joined with no separator) + ` [/INST] {response}` + the tokenizer's eos token.
- The literal `<s>`: every sequence starts with exactly one beginning-of-sequence token. The text
  is tokenized without the tokenizer's own special tokens; where the tokenizer's bos token is
  `<s>` (Llama-2, Phi-3) the literal already is that bos and nothing is added, so there is no
  double bos (trl's SFTTrainer tokenizes with special tokens on, so the authors' run likely had
  two). Where the bos is another token (Gemma `<bos>`, Llama-3 `<|begin_of_text|>`), `<s>` stays
  plain text as it did for the authors, and the tokenizer's own bos is put in front when the
  tokenizer adds one by itself.
- `chat_template` renders the record with the model's own template: user turn = instruction, plus
  a blank line and `Here's some context: {context}` when there is context; assistant turn =
  response. The same bos rule applies.
- Sequences longer than `max_seq_length` are cut at the end (their eos is lost); the record counts
  how many records and tokens were cut. With `packing: true` the tokenized records are concatenated
  and cut into blocks of `max_seq_length` instead, and nothing is dropped.
- Target modules: the configured names mapped onto the model's linear layers; models that fuse
  projections (Phi-3: `qkv_proj`, `gate_up_proj`) get the fused layer for its parts.
- Checkpoints every `save_steps` optimizer steps go to a folder beside the adapter; a rerun with
  the same settings resumes from the last complete one, and they are removed once the adapter is
  in place.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from finetox.io import InputError, UserError, file_sha256, frame_sha256, write_json, write_table
from finetox.loading import TRAINING_RECORD, describe_source, hub_kwargs, load_causal_lm
from finetox.logs import progress_interval

log = logging.getLogger("finetox.finetune")

DOLLY_COLUMNS = ("instruction", "context", "response")
CONTEXT_PREFIX = "Here's some context: "
LOSS_CSV = "loss.csv"
# in the checkpoint folder: the settings its checkpoints belong to
RUN_RECORD = "finetox_run.json"
IGNORE_INDEX = -100  # label of a token that does not count in the loss
PAPER_BOS = "<s>"
CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")

# Projections that some architectures fuse into one linear layer.
FUSED_MODULES = {
    "q_proj": "qkv_proj",
    "k_proj": "qkv_proj",
    "v_proj": "qkv_proj",
    "gate_proj": "gate_up_proj",
    "up_proj": "gate_up_proj",
}
NEVER_TARGETED = ("lm_head",)


class TargetModuleError(UserError):
    """None of the configured LoRA target modules exists in the model."""


# ---------------------------------------------------------------------------------------------
# Settings


def default_lora_settings() -> dict[str, Any]:
    """The `lora` section with every schema default filled in (the authors' recipe)."""
    from finetox.config import fill_defaults, load_schema

    schema = load_schema()
    settings: dict[str, Any] = {}
    fill_defaults(settings, schema["properties"]["lora"], schema)
    return settings


def lora_settings_for(
    config: str | os.PathLike | None = None,
    *,
    data: str | None = None,
    max_records: int | None = None,
) -> dict[str, Any]:
    """The `lora` section of a study config (or the defaults), with the data source and
    record cap a command line gives; `data` is a local file or a hub dataset id."""
    from finetox.config import HUB_ID, load_study_file

    lora = load_study_file(config).config["lora"] if config else default_lora_settings()
    lora = copy.deepcopy(lora)
    if data is not None:
        if Path(data).is_file():
            lora["data"] = {**lora["data"], "path": data}
        elif HUB_ID.match(data):
            lora["data"] = {**lora["data"], "hub": data, "path": None}
        else:
            raise InputError(f"{data}: neither a file nor a hub dataset id (owner/name)")
    if max_records is not None:
        if max_records < 1:
            raise InputError(f"--max-records: {max_records} must be at least 1")
        lora["max_records"] = max_records
    return lora


def resolve_recipe(lora: dict[str, Any], cuda: bool) -> dict[str, Any]:
    """What actually runs: the `auto` settings decided for this machine."""
    resolved = copy.deepcopy(lora)
    if resolved["load_in_4bit"] == "auto":
        resolved["load_in_4bit"] = cuda
    if resolved["optim"] == "auto":
        resolved["optim"] = "adamw_8bit" if cuda else "adamw_torch"
    if resolved.get("gradient_checkpointing", "auto") == "auto":
        resolved["gradient_checkpointing"] = cuda
    return resolved


# ---------------------------------------------------------------------------------------------
# Data


@dataclass
class DollyData:
    records: pd.DataFrame  # the records used, in order
    source: dict[str, Any]  # where they came from and their hash
    available: int  # records in the source before max_records


def load_dolly(data: dict[str, Any], max_records: int | None = None) -> DollyData:
    """databricks-dolly-15k from a local JSONL (`data.path`) or the hub (`data.hub`)."""
    if data.get("path"):
        path = Path(data["path"])
        frame = _check_dolly_frame(_read_jsonl(path), str(path))
        source = {"path": str(path), "file_sha256": file_sha256(path)}
    else:
        frame = _check_dolly_frame(
            _load_hub_dataset(data["hub"], data.get("revision"), data.get("split", "train")),
            data["hub"],
        )
        source = {"hub": data["hub"], "revision": data.get("revision"), "split": data["split"]}
    available = len(frame)
    if max_records is not None:
        frame = frame.iloc[:max_records].reset_index(drop=True)
    source["sha256"] = frame_sha256(frame[list(DOLLY_COLUMNS)])  # of the records used
    return DollyData(records=frame, source=source, available=available)


def _read_jsonl(path: Path) -> pd.DataFrame:
    from finetox.io import read_table

    if path.suffix.lower() not in (".jsonl", ".json", ".parquet", ".csv"):
        raise InputError(f"{path}: Dolly data must be JSONL (or JSON, Parquet, CSV)")
    return read_table(path)


def _load_hub_dataset(hub: str, revision: str | None, split: str) -> pd.DataFrame:
    import datasets

    kwargs = hub_kwargs(revision)
    kwargs.pop("trust_remote_code", None)
    log.info("loading Dolly data %s, split %s", describe_source(hub, revision), split)
    try:
        dataset = datasets.load_dataset(hub, split=split, **kwargs)
    except Exception as error:  # network, missing split, gated repository: name the source
        raise InputError(f"{hub} (split {split}): cannot be loaded: {error}") from error
    return dataset.to_pandas()


def _check_dolly_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in DOLLY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: missing Dolly column(s) {missing}; found {list(frame.columns)} "
            "(expected instruction, context, response, category)"
        )
    frame = frame.copy()
    frame["context"] = frame["context"].fillna("").astype(str)
    for column in ("instruction", "response"):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            rows = ", ".join(str(i) for i in frame.index[empty][:5])
            raise InputError(f"{where}: empty {column} in record(s) {rows}")
        frame[column] = frame[column].astype(str)
    if frame.empty:
        raise InputError(f"{where}: no records")
    return frame


# ---------------------------------------------------------------------------------------------
# Rendering and tokenization


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
            f"lora.format: chat_template, but the tokenizer of {tokenizer.name_or_path!r} has no "
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
    raise UserError(f"lora.format: unknown format {fmt!r}; use paper_inst or chat_template")


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
            raise UserError(f"lora.loss_on: unknown value {loss_on!r}; use all or response")
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
    records: pd.DataFrame, tokenizer, lora: dict[str, Any], chunk: int = 1000
) -> TrainingData:
    """Render, tokenize, truncate (or pack) every record; count what was cut."""
    from tqdm.auto import tqdm

    bos = adds_bos(tokenizer)
    max_len = lora["max_seq_length"]
    examples: list[Example] = []
    rows = records.to_dict("records")
    with tqdm(
        total=len(rows), desc="tokenizing", unit="record", mininterval=progress_interval()
    ) as bar:
        for start in range(0, len(rows), chunk):
            rendered = [render(r, tokenizer, lora["format"]) for r in rows[start : start + chunk]]
            examples += tokenize_rendered(
                tokenizer,
                rendered,
                max_seq_length=None if lora["packing"] else max_len,
                loss_on=lora["loss_on"],
                bos=bos,
            )
            bar.update(len(rendered))
    counts = {
        "records": len(examples),
        "truncated": sum(1 for e in examples if e.tokens_cut),
        "tokens": sum(len(e.input_ids) + e.tokens_cut for e in examples),
        "tokens_cut": sum(e.tokens_cut for e in examples),
    }
    if lora["packing"]:
        examples = pack(examples, max_len)
    counts["sequences"] = len(examples)
    counts["loss_tokens"] = sum(sum(1 for t in e.labels[1:] if t != IGNORE_INDEX) for e in examples)
    return TrainingData(examples=examples, counts=counts)


# ---------------------------------------------------------------------------------------------
# The model


def linear_module_names(model: torch.nn.Module) -> list[str]:
    """Leaf names of the model's linear layers (quantized ones included), lm_head excluded."""
    from transformers.pytorch_utils import Conv1D

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, (torch.nn.Linear, Conv1D))
    }
    return sorted(names - set(NEVER_TARGETED))


def resolve_target_modules(model: torch.nn.Module, wanted: Sequence[str]) -> list[str]:
    """The configured names mapped onto the model's linear layers, fused ones included.

    Raises TargetModuleError naming the model's linear layers when nothing matches.
    """
    available = set(linear_module_names(model))
    resolved: list[str] = []
    for name in wanted:
        match = name if name in available else FUSED_MODULES.get(name)
        if match in available and match not in resolved:
            resolved.append(match)
    if not resolved:
        model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise TargetModuleError(
            f"lora.target_modules: none of {list(wanted)} is a linear layer of this {model_type} "
            f"model; its linear layers are {sorted(available)}"
        )
    unmatched = [n for n in wanted if n not in available and FUSED_MODULES.get(n) not in available]
    if unmatched:
        log.warning("target modules not in this model (skipped): %s", unmatched)
    return resolved


def load_base_for_training(model: dict[str, Any], recipe: dict[str, Any], on: torch.device):
    """The base model ready for LoRA: in 4-bit NF4 when the recipe says so."""
    base = load_causal_lm(
        model["source"],
        revision=model.get("revision"),
        dtype=model.get("dtype", "auto"),
        trust_remote_code=model.get("trust_remote_code", False),
        load_in_4bit=recipe["load_in_4bit"],
        on=on,
    )
    base.config.use_cache = False  # no KV cache while training
    if recipe["load_in_4bit"]:
        from peft import prepare_model_for_kbit_training

        base = prepare_model_for_kbit_training(
            base, use_gradient_checkpointing=recipe["gradient_checkpointing"]
        )
    elif recipe["gradient_checkpointing"]:
        base.gradient_checkpointing_enable()
        base.enable_input_require_grads()
    return base


def add_lora(base, recipe: dict[str, Any]):
    """Wrap `base` in a peft LoRA model; only the adapter weights are trainable."""
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    set_seed(recipe["seed"])  # the adapter's initial weights
    targets = resolve_target_modules(base, recipe["target_modules"])
    config = LoraConfig(
        r=recipe["r"],
        lora_alpha=recipe["alpha"],
        lora_dropout=recipe["dropout"],
        bias=recipe["bias"],
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    trainable, total = model.get_nb_trainable_parameters()
    log.info(
        "LoRA r=%d alpha=%s on %s: %d trainable of %d parameters (%.3f%%)",
        recipe["r"], recipe["alpha"], targets, trainable, total, 100 * trainable / total,
    )  # fmt: skip
    return model, targets


# ---------------------------------------------------------------------------------------------
# Training


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


def training_arguments(recipe: dict[str, Any], checkpoints: str | os.PathLike, on: torch.device):
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
        "save_total_limit": 2,
        "report_to": [],
        "remove_unused_columns": False,
        "use_cpu": on.type == "cpu",
        "dataloader_num_workers": 0,
    }
    try:
        return TrainingArguments(**settings)
    except ValueError as error:  # an optimizer name transformers does not know, say
        raise UserError(f"lora: transformers rejects these settings: {error}") from error


def last_complete_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest checkpoint whose trainer state was written (the Trainer writes it last);
    partial ones left by a kill are removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), path)
        for path in folder.iterdir()
        if path.is_dir() and (m := CHECKPOINT_DIR.match(path.name))
    )
    complete = None
    for _, path in found:
        if (path / "trainer_state.json").exists():
            complete = path
        else:
            log.warning("removing incomplete checkpoint %s", path)
            shutil.rmtree(path)
    return complete


def run_fingerprint(model: dict[str, Any], recipe: dict[str, Any], data_sha256: str) -> dict:
    """What a checkpoint must match to be resumed."""
    return {
        "source": model["source"],
        "revision": model.get("revision"),
        "recipe": recipe,
        "data_sha256": data_sha256,
    }


def prepare_checkpoints(folder: Path, fingerprint: dict) -> Path | None:
    """The checkpoint to resume from, if it belongs to the same run; stale ones are cleared."""
    import json

    record = folder / RUN_RECORD
    if folder.exists() and record.exists():
        if json.loads(record.read_text()) != json.loads(json.dumps(fingerprint, default=str)):
            log.warning("checkpoints in %s belong to other settings or data; starting over", folder)
            shutil.rmtree(folder)
    elif folder.exists() and any(folder.iterdir()):
        log.warning("checkpoints in %s have no run record; starting over", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(fingerprint, record)
    return last_complete_checkpoint(folder)


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
):
    """Run the Trainer; returns (trainer, TrainOutput)."""
    from transformers import DataCollatorForSeq2Seq, Trainer

    on = on or next(model.parameters()).device
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
    trainer = Trainer(
        model=model,
        args=training_arguments(recipe, checkpoints, on),
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


# ---------------------------------------------------------------------------------------------
# The stage: read, tune, write


def _versions() -> dict[str, str]:
    import peft
    import transformers

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
    try:
        import bitsandbytes

        versions["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        pass
    return versions


def _device_name(on: torch.device) -> str:
    return torch.cuda.get_device_name(on) if on.type == "cuda" else "cpu"


def _place(folder: Path, out: Path) -> None:
    """Move the finished folder into place; an existing non-empty result is never replaced."""
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            raise UserError(f"{out}: already exists; remove it or choose another output folder")
    os.replace(folder, out)


def finetune_file(
    *,
    model: dict[str, Any],
    lora: dict[str, Any],
    out: str | os.PathLike,
    checkpoints: str | os.PathLike | None = None,
    callbacks: Sequence[Any] = (),
    keep_checkpoints: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Tune `model` (a model's settings: source, revision, dtype, trust_remote_code) with LoRA on
    Dolly as `lora` says; write the adapter, its training record and loss curve to `out`.

    Returns the training record.
    """
    from finetox.loading import device, load_tokenizer

    started = time.time()
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    checkpoints = Path(checkpoints) if checkpoints else out.parent / ".checkpoints" / out.name
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: already exists; remove it or choose another output folder")
    on = device()
    recipe = resolve_recipe(lora, cuda=on.type == "cuda")
    timings: dict[str, float] = {}

    tick = time.time()
    data = load_dolly(lora["data"], lora["max_records"])
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
    timings["data_s"] = time.time() - tick

    tick = time.time()
    base = load_base_for_training(model, recipe, on)
    peft_model, targets = add_lora(base, recipe)
    timings["load_s"] = time.time() - tick

    resume_from = prepare_checkpoints(
        checkpoints, run_fingerprint(model, recipe, data.source["sha256"])
    )
    if resume_from:
        log.info("resuming from %s", resume_from)
    tick = time.time()
    trainer, output = train(
        peft_model,
        tokenizer,
        training_data,
        recipe,
        checkpoints,
        resume_from=resume_from,
        callbacks=callbacks,
        on=on,
    )
    timings["train_s"] = time.time() - tick
    curve = loss_curve(trainer.state.log_history)

    tick = time.time()
    record = {
        "dolly": out.name,
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
        "lora": lora,
        "resolved": {**recipe, "target_modules": targets},
        "requested_target_modules": list(lora["target_modules"]),
        "loss_on": recipe["loss_on"],
        "bos": "one bos token: the literal <s> where it is the tokenizer's bos, else the "
        "tokenizer's own bos in front when it adds one",
        "tokenizer": "unchanged: load the base model's tokenizer",
        "data": {**data.source, "available": data.available, **counts},
        "metrics": dict(output.metrics),
        "global_step": trainer.state.global_step,
        "resumed_from": resume_from.name if resume_from else None,
        "final_loss": float(curve["loss"].iloc[-1]) if len(curve) else None,
        "versions": _versions(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        peft_model.save_pretrained(staging)
        write_table(curve, staging / LOSS_CSV)
        timings["save_s"] = time.time() - tick
        timings["total_s"] = time.time() - started
        record["timings"] = {k: round(v, 2) for k, v in timings.items()}
        write_json(record, staging / TRAINING_RECORD)
        _place(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    if not keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
        with contextlib.suppress(OSError):  # the shared parent, once no job has checkpoints
            checkpoints.parent.rmdir()
    log.info(
        "adapter %s: %d steps, loss %.4f -> %.4f, %s, %.1f s",
        out, trainer.state.global_step,
        curve["loss"].iloc[0] if len(curve) else math.nan,
        curve["loss"].iloc[-1] if len(curve) else math.nan,
        "4-bit NF4 base" if recipe["load_in_4bit"] else "full-precision base",
        timings["total_s"],
    )  # fmt: skip
    return record
