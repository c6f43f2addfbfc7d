"""The model to tune: the configured target modules found in its linear layers, the base loaded
for training (4-bit NF4 when the recipe says so), and the LoRA adapter around it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from finetox.io import UserError
from finetox.loading import load_causal_lm

log = logging.getLogger("finetox.tune")

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
            f"tune.target_modules: none of {list(wanted)} is a linear layer of this {model_type} "
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
