"""The tuning part: finetox.tune.tune_file with the paper's recipe on Dolly-like records for a few
steps, then the adapter loaded back as the generate stage loads it (on a 4-bit base) and a slice
of the generation workload through it."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

from .measure import (
    dtype_name,
    free_memory,
    peak_gib,
    reset_peak,
    sync,
    timed_generation,
    warm_up,
)
from .suite import Suite
from .workload import describe_dolly_like, dolly_like

RECIPE_KEYS = (
    "per_device_batch_size", "gradient_accumulation_steps", "max_seq_length", "load_in_4bit",
    "optim", "gradient_checkpointing", "r", "alpha", "learning_rate", "format", "loss_on",
    "packing",
)  # fmt: skip
CUDA_ONLY_KEYS = ("load_in_4bit", "optim", "gradient_checkpointing")


def step_clock():
    """A TrainerCallback: the time at the end of each optimizer step, and the peak GPU memory of
    the training alone (reset when it begins)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.step_times: list[float] = []
            self.peak_gib: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            reset_peak()

        def on_step_end(self, args, state, control, **kwargs):
            sync()
            self.step_times.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kwargs):
            self.peak_gib = peak_gib()

    return StepClock()


def cuda_recipe_on_cpu(settings: dict[str, Any], cuda_recipe: dict[str, Any]) -> str:
    """Without CUDA, have the CUDA recipe run on bitsandbytes' CPU backend where it is installed;
    what ran instead of the GPU's recipe."""
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return "no CUDA and no bitsandbytes: the CPU recipe ran (no 4-bit, AdamW)"
    for key in CUDA_ONLY_KEYS:
        settings[key] = cuda_recipe[key]
    return (
        "no CUDA: the CUDA recipe (NF4 base, adamw_8bit, gradient checkpointing) ran "
        "on bitsandbytes' CPU backend; its speed says nothing about a GPU's"
    )


def prepare_tuning(suite: Suite, name: str) -> dict[str, Any]:
    """The tune section's defaults on Dolly-like records for `tune_steps` steps; the entry
    says what is to run."""
    from finetox.config import section_defaults
    from finetox.tune import resolve_recipe

    sizes, entry = suite.sizes, suite.result["tuning"]
    settings = copy.deepcopy(section_defaults("tune"))
    per_step = settings["per_device_batch_size"] * settings["gradient_accumulation_steps"]
    records = dolly_like(sizes.tune_steps * per_step, sizes, suite.vocabularies[name])
    data = suite.work / "dolly-like.jsonl"
    records.to_json(data, orient="records", lines=True)
    settings["data"] = {**settings["data"], "path": str(data), "hub": None}
    cuda_recipe = resolve_recipe(settings, cuda=True)
    stand_in = None if suite.cuda else cuda_recipe_on_cpu(settings, cuda_recipe)
    entry.update(
        {
            "model": name,
            "steps": sizes.tune_steps,
            "records": len(records),
            "recipe_on_cuda": {key: cuda_recipe[key] for key in RECIPE_KEYS},
            "stand_in": stand_in,
            "dolly_like": describe_dolly_like(sizes),
        }
    )
    return settings


def measure_tuning(suite: Suite) -> None:
    from finetox.tune import tune_file

    name = suite.args.tune_model
    folder = suite.model_folder(name)
    settings = prepare_tuning(suite, name)
    clock = step_clock()
    free_memory()
    adapter = suite.work / "adapter"
    record = tune_file(
        model={"source": str(folder)},
        settings=settings,
        out=adapter,
        checkpoints=suite.work / "checkpoints",
        callbacks=[clock],
    )
    record_training(suite, record, clock)
    free_memory()
    measure_adapter_reload(suite, folder, adapter, name)


def record_training(suite: Suite, record: dict[str, Any], clock) -> None:
    entry = suite.result["tuning"]
    entry["ran"] = {key: record["resolved"][key] for key in CUDA_ONLY_KEYS}
    entry["device"] = record["device"]
    entry["global_step"] = record["global_step"]
    entry["timings"] = record.get("timings", {})
    entry["data"] = record["data"]
    entry["tokens_per_step"] = record["data"]["tokens"] / max(1, record["global_step"])
    times = clock.step_times
    if len(times) >= 2:
        entry["steps_per_s"] = (len(times) - 1) / (times[-1] - times[0])
        entry["steps_timed"] = f"steps 2-{len(times)} (the first, with its warm-up, left out)"
    else:
        entry["steps_per_s"] = record["global_step"] / record["timings"]["train_s"]
        entry["steps_timed"] = "all (one step)"
    entry["s_per_step"] = 1 / entry["steps_per_s"]
    entry["peak_gpu_mem_gib"] = clock.peak_gib
    suite.skip_without_cuda(entry, "peak_gpu_mem_gib", where="tuning")
    entry["final_loss"] = record.get("final_loss")


def measure_adapter_reload(suite: Suite, folder: Path, adapter: Path, name: str) -> None:
    """The Dolly model as the generate stage loads it: base in the precision the adapter's
    record names (4-bit), adapter on top; then a slice of the workload through it."""
    from finetox.generation import encode_prompts, load_model, model_settings

    entry = suite.result["tuning"]
    started = time.perf_counter()
    model, tokenizer = load_model(
        model_settings(str(folder), load_in_4bit="as_trained"), adapter=str(adapter)
    )
    entry["reload_s"] = time.perf_counter() - started
    reload = entry["reload"] = compare_adapter(model, adapter)
    entry["adapter_reloads_in_4bit"] = bool(
        reload["linear4bit_modules"]
        and 0 < reload["adapter_tensors_matched"] == reload["adapter_tensors_saved"]
        and reload["adapter_max_abs_diff"] == 0.0
    )
    _, texts = suite.prompts(name)
    prompt_ids = encode_prompts(tokenizer, texts[: suite.sizes.adapter_prompts])
    warm_up(model, tokenizer, prompt_ids, suite.sizes)
    reset_peak()
    run = timed_generation(model, tokenizer, prompt_ids, suite.sizes)
    entry["generation_4bit_adapter"] = {
        "prompts": len(prompt_ids),
        "wall_s": run.seconds,
        "tokens_per_s": run.new_tokens / run.seconds,
        "s_per_prompt": run.seconds / len(prompt_ids),
        "auto_batch_size": run.batch_sizes[0],
        "peak_gpu_mem_gib": peak_gib(),
    }
    del model
    free_memory()


def compare_adapter(model, adapter: Path) -> dict[str, Any]:
    """The loaded model's 4-bit layers, and its adapter tensors against the saved ones (compared
    in the dtype the loaded adapter holds)."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    four_bit = [n for n, m in model.named_modules() if type(m).__name__ == "Linear4bit"]
    saved = load_file(str(adapter / "adapter_model.safetensors"))
    loaded = {k: v.detach().cpu() for k, v in get_peft_model_state_dict(model).items()}
    common = sorted(set(saved) & set(loaded))
    difference = max(
        (float((saved[k].to(loaded[k].dtype) - loaded[k]).abs().max()) for k in common),
        default=math.nan,
    )
    return {
        "linear4bit_modules": len(four_bit),
        "adapter_tensors_saved": len(saved),
        "adapter_tensors_matched": len(common),
        "adapter_max_abs_diff": difference,
        "adapter_dtype": dtype_name(loaded[common[0]].dtype) if common else None,
        "adapter_trained": any(float(saved[k].abs().max()) > 0 for k in saved if "lora_B" in k),
    }
