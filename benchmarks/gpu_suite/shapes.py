"""The real architectures' configs, and toy ones that keep their features, for random weights (no
hub): Llama-3.1-8B, Gemma-2-2B and a RoBERTa-base classifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .sizes import GEMMA, LLAMA


def llama_config(smoke: bool):
    """Llama-3.1-8B: GQA (32 query, 8 key/value heads), llama3 rope scaling, 128k positions."""
    from transformers import LlamaConfig

    sizes = (
        dict(hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=2304)
        if smoke
        else dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, vocab_size=128256)
    )  # fmt: skip
    special = sizes["vocab_size"] - 256  # 128000: <|begin_of_text|>, 128001: <|end_of_text|>
    return LlamaConfig(
        **sizes,
        max_position_embeddings=131072,
        rope_theta=500000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        rms_norm_eps=1e-5,
        hidden_act="silu",
        bos_token_id=special,
        eos_token_id=special + 1,
        tie_word_embeddings=False,
    )


def gemma_config(smoke: bool):
    """Gemma-2-2B: alternating sliding-window (4096) and global layers, attention and final
    logit soft-capping (50, 30), head_dim 256, a 256k vocabulary with tied embeddings."""
    from transformers import Gemma2Config

    sizes = (
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=16, vocab_size=2048, sliding_window=16,
             query_pre_attn_scalar=16)
        if smoke  # a window shorter than the prompts, so it cuts here too
        else dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                  num_attention_heads=8, num_key_value_heads=4, head_dim=256, vocab_size=256000,
                  sliding_window=4096, query_pre_attn_scalar=256)
    )  # fmt: skip
    return Gemma2Config(
        **sizes,
        attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0,
        max_position_embeddings=8192,
        hidden_activation="gelu_pytorch_tanh",
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=True,
    )


def guard_config(smoke: bool):
    """Llama-Guard-3-1B (Llama-3.2-1B's shape): GQA (32 query, 8 key/value heads), head_dim 64,
    llama3 rope scaling (factor 32), a 128k vocabulary with tied embeddings."""
    from transformers import LlamaConfig

    sizes = (
        dict(hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=2304)
        if smoke
        else dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                  num_attention_heads=32, num_key_value_heads=8, vocab_size=128256)
    )  # fmt: skip
    special = sizes["vocab_size"] - 256
    return LlamaConfig(
        **sizes,
        max_position_embeddings=131072,
        rope_theta=500000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        rms_norm_eps=1e-5,
        hidden_act="silu",
        bos_token_id=special,
        eos_token_id=special + 1,
        tie_word_embeddings=True,
    )


class Shape(NamedTuple):
    make_config: Callable[[bool], Any]  # smoke -> the transformers config
    params_b: float  # as config/config.yaml lists the family's models
    family: str  # the tokenizer's conventions: "llama" or "gemma"


SHAPES = {
    LLAMA: Shape(llama_config, 8.0, "llama"),
    GEMMA: Shape(gemma_config, 2.6, "gemma"),
}

# RoBERTa-base: 12 layers, hidden 768, 12 heads, 50,265 ids, 514 positions
ROBERTA_VOCABULARY, ROBERTA_POSITIONS = 50265, 512
ROBERTA_BASE = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
)
ROBERTA_TOY = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256
)

SUMMARY_KEYS = (
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
    "intermediate_size", "vocab_size", "max_position_embeddings", "sliding_window",
    "attn_logit_softcapping", "final_logit_softcapping",
)  # fmt: skip


def shape_summary(config) -> dict[str, Any]:
    """The config's size and architecture features, for the JSON."""
    summary = {
        key: getattr(config, key) for key in SUMMARY_KEYS if getattr(config, key, None) is not None
    }
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None)
    if rope:
        summary["rope"] = dict(rope)
    return summary
