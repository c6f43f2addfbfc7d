"""Tuning a tiny LLaMA for real: loss, frozen base, resume after a kill, reload, 4-bit on GPU."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from finetox.config import section_defaults
from finetox.loading import TRAINING_RECORD, load_causal_lm, load_tokenizer
from finetox.resume import STAMP
from finetox.tune import LOSS_CSV, resolve_recipe, tune_file
from finetox.tune.data import load_dolly
from finetox.tune.model import add_lora, load_base_for_training
from finetox.tune.render import build_training_data
from finetox.tune.training import loss_curve, train
from tests.tune_support import build_tiny_llama, write_dolly

# 24 records, batch 2 x accumulation 2: 6 optimizer steps an epoch, 12 in all
SETTINGS = {
    "learning_rate": 3e-2,
    "max_seq_length": 48,
    "gradient_accumulation_steps": 2,
    "epochs": 2,
    "warmup_steps": 2,
    "save_steps": 3,
}
STEPS = 12


class Killed(Exception):
    pass


class KillAfterSave(TrainerCallback):
    """Stands in for a killed job: dies right after the checkpoint of `step` is written."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise Killed(state.global_step)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    model = build_tiny_llama(folder / "model")
    data = write_dolly(folder / "dolly.jsonl", n=24)
    settings = section_defaults("tune")
    settings.update(SETTINGS, data={**settings["data"], "path": str(data)})
    return {"model": {"source": str(model)}, "tune": settings, "folder": folder}


@pytest.fixture(scope="module")
def uninterrupted(tiny):
    """One run through the stage's parts, keeping the model to inspect."""
    recipe = resolve_recipe(tiny["tune"], cuda=False)
    tokenizer = load_tokenizer(tiny["model"]["source"], padding_side="right")
    data = build_training_data(load_dolly(recipe["data"]).records, tokenizer, recipe)
    base = load_base_for_training(tiny["model"], recipe, torch.device("cpu"))
    model, targets = add_lora(base, recipe)
    trainer, _ = train(model, tokenizer, data, recipe, tiny["folder"] / "ckpt-plain")
    return {"model": model, "curve": loss_curve(trainer.state.log_history), "targets": targets}


def lora_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.replace(".default", ""): v for k, v in state.items() if "lora_" in k}


def test_training_lowers_the_loss(uninterrupted):
    losses = uninterrupted["curve"]["loss"].tolist()
    assert len(losses) == STEPS
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.05, losses


def test_only_adapter_weights_change(tiny, uninterrupted):
    model = uninterrupted["model"]
    on_disk = load_file(f"{tiny['model']['source']}/model.safetensors")
    base = model.get_base_model().state_dict()
    frozen = {k.replace(".base_layer", ""): v for k, v in base.items() if "lora_" not in k}
    assert frozen.keys() == on_disk.keys()
    for name, tensor in on_disk.items():
        assert torch.equal(frozen[name], tensor), name  # bitwise
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert all(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: training moved it


@pytest.fixture(scope="module")
def resumed(tiny):
    """The stage killed after its second checkpoint, then run again."""
    out = tiny["folder"] / "tuned" / "tiny-dolly"
    checkpoints = tiny["folder"] / "tuned" / ".checkpoints" / "tiny-dolly"
    with pytest.raises(Killed):
        tune_file(
            model=tiny["model"],
            settings=tiny["tune"],
            out=out,
            checkpoints=checkpoints,
            callbacks=[KillAfterSave(6)],
        )
    left = sorted(p.name for p in checkpoints.iterdir())
    record = tune_file(model=tiny["model"], settings=tiny["tune"], out=out, checkpoints=checkpoints)
    return {"out": out, "checkpoints": checkpoints, "left": left, "record": record}


def test_a_killed_run_resumes_from_its_last_checkpoint(resumed, uninterrupted):
    assert resumed["left"] == ["checkpoint-3", "checkpoint-6", STAMP]
    record = resumed["record"]
    assert record["resumed_from"] == "checkpoint-6"
    assert record["global_step"] == STEPS
    assert not resumed["checkpoints"].exists()  # removed once the adapter is in place
    curve = pd.read_csv(resumed["out"] / LOSS_CSV)
    assert curve["step"].tolist() == list(range(1, STEPS + 1))
    # the resumed run ends where an uninterrupted one does
    pd.testing.assert_frame_equal(curve, uninterrupted["curve"], rtol=1e-4)
    saved = lora_weights(load_file(resumed["out"] / "adapter_model.safetensors"))
    trained = lora_weights(uninterrupted["model"].state_dict())
    assert saved.keys() == trained.keys() and saved
    for name, tensor in saved.items():
        assert torch.allclose(tensor, trained[name], atol=1e-5), name


def test_the_training_record(resumed, tiny):
    out = resumed["out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        TRAINING_RECORD,
        LOSS_CSV,
    ]
    record = json.loads((out / TRAINING_RECORD).read_text())
    assert record["load_in_4bit"] is False
    assert record["base"]["source"] == tiny["model"]["source"]
    assert record["tune"] == json.loads(json.dumps(tiny["tune"]))
    assert record["resolved"]["optim"] == "adamw_torch"
    assert record["resolved"]["target_modules"] == tiny["tune"]["target_modules"]
    # saved in a fixed order (peft keeps a set), so a rerun writes the same bytes
    saved = json.loads((out / "adapter_config.json").read_text())["target_modules"]
    assert saved == sorted(saved) and set(saved) == set(tiny["tune"]["target_modules"])
    assert record["loss_on"] == "all"
    data = record["data"]
    assert (data["available"], data["records"]) == (24, 24)
    assert 0 < data["truncated"] < 24 and data["tokens_cut"] > 0
    assert len(data["sha256"]) == len(data["file_sha256"]) == 64
    assert record["metrics"]["train_loss"] > 0
    assert set(record["timings"]) == {"data_s", "load_s", "train_s", "save_s", "total_s"}
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert (adapter_config["r"], adapter_config["lora_alpha"]) == (16, 16)


def test_an_existing_adapter_is_never_overwritten(resumed, tiny):
    from finetox.io import UserError

    before = (resumed["out"] / "adapter_model.safetensors").read_bytes()
    with pytest.raises(UserError, match="already exists"):
        tune_file(model=tiny["model"], settings=tiny["tune"], out=resumed["out"])
    assert (resumed["out"] / "adapter_model.safetensors").read_bytes() == before


def test_the_adapter_reloads_and_generates(resumed, tiny):
    source = tiny["model"]["source"]
    tokenizer = load_tokenizer(source)
    dolly = load_causal_lm(source, adapter=resumed["out"], load_in_4bit="as_trained")
    plain = load_causal_lm(source)
    batch = tokenizer(["the old farmer", "shut up , you"], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert not torch.allclose(dolly(**batch).logits, plain(**batch).logits)
        out = dolly.generate(**batch, max_new_tokens=5, do_sample=False)
    assert out.shape == (2, batch["input_ids"].shape[1] + 5)


def test_the_cli_tunes_too(tiny, tmp_path):
    from finetox.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(
        "prompts: {}\nfamilies:\n  t:\n    instruct: {slug: t-it, id: a/b}\n"
        "tune: {max_seq_length: 32, epochs: 1, gradient_accumulation_steps: 1, save_steps: 50}\n"
    )
    out = tmp_path / "adapter"
    code = main([
        "tune", "--model", tiny["model"]["source"],
        "--data", tiny["tune"]["data"]["path"],
        "--out", str(out), "--config", str(config), "--max-records", "4",
    ])  # fmt: skip
    assert code == 0
    record = json.loads((out / TRAINING_RECORD).read_text())
    assert (record["data"]["records"], record["data"]["available"]) == (4, 24)
    assert record["global_step"] == 2 and record["tune"]["max_seq_length"] == 32
    missing = ["--data", "missing.jsonl", "--out", str(tmp_path / "other")]
    assert main(["tune", "--model", tiny["model"]["source"], *missing]) == 2
    assert not (tmp_path / "other").exists()


def test_a_4bit_base_trains_and_reloads_in_4bit(tiny, tmp_path):
    """The QLoRA path, small enough for bitsandbytes on a CPU."""
    import bitsandbytes as bnb

    settings = {**tiny["tune"], "load_in_4bit": True, "max_records": 8, "epochs": 1}
    record = tune_file(model=tiny["model"], settings=settings, out=tmp_path / "q")
    assert record["load_in_4bit"] is True and record["global_step"] == 2
    model = load_causal_lm(
        tiny["model"]["source"], adapter=tmp_path / "q", load_in_4bit="as_trained"
    )
    assert sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules()) == 14


@pytest.mark.gpu
def test_qlora_on_a_4bit_base(tiny, tmp_path):
    """The paper's setting: NF4 base, 8-bit AdamW; generation reloads it in 4-bit."""
    import bitsandbytes as bnb

    settings = {**tiny["tune"], "load_in_4bit": "auto", "optim": "auto", "epochs": 1}
    record = tune_file(model=tiny["model"], settings=settings, out=tmp_path / "q")
    assert record["load_in_4bit"] is True
    assert record["resolved"]["optim"] == "adamw_8bit"
    curve = pd.read_csv(tmp_path / "q" / LOSS_CSV)
    assert curve["loss"].notna().all() and len(curve) == STEPS // 2
    model = load_causal_lm(
        tiny["model"]["source"], adapter=tmp_path / "q", load_in_4bit="as_trained"
    )
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    tokenizer = load_tokenizer(tiny["model"]["source"])
    batch = tokenizer(["the old farmer"], return_tensors="pt").to(model.device)
    out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == batch["input_ids"].shape[1] + 4
