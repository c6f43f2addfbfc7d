"""Toy versions of the paper's six instruct models: each family's config class with its features
switched on, its special tokens, chat template and generation config, and random weights at toy
size, saved in Hugging Face format so the tests load them through finetox's own loading code.

What each toy keeps from its hub model (meta-llama/Llama-2-7b-chat-hf,
meta-llama/Meta-Llama-3.1-8B-Instruct, google/gemma-2b-it, google/gemma-2-2b-it,
microsoft/Phi-3-mini-4k-instruct, microsoft/Phi-3.5-mini-instruct):
- the config class and what sets the family apart: Llama-3.1's llama3 rope scaling and grouped
  KV heads, Gemma's single KV head and tied embeddings, Gemma-2's alternating sliding-window
  layers and attention and final logit soft-capping, Phi-3's fused qkv_proj and gate_up_proj and
  sliding window, Phi-3.5's longrope (short and long factors, original_max_position_embeddings);
- the tokenizer's special tokens, where they sit (Llama-3 and Phi-3 add theirs after the
  vocabulary; Phi-3's turn markers swallow the whitespace after them, rstrip), whether it puts
  bos in front by itself, and its eos and pad tokens;
- the chat template, as on the hub (Llama-3.1's without its tool-calling branches);
- the generation config: its eos ids (Llama-3.1, Gemma-2 and the Phi-3s list their end-of-turn
  tokens, Llama-2 and Gemma one id), sampling settings and cache implementation.

Random weights say nothing about which token comes next, so each toy is made to write one special
token in the middle of some greedy continuations (`Family.forced`): the one that tells the two
stop rules apart where the family has one.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from finetox.demo.synthetic import rtp_records
from tests.tune_support import training_corpus

HIDDEN, INTERMEDIATE, LAYERS, HEADS = 64, 128, 2, 4
# Gemma's heads are wider than hidden_size / heads, as in the real ones; every projection's width
# is a multiple of 32, which bitsandbytes' CPU kernel for 4-bit inference needs
GEMMA_HEAD_DIM = 32
VOCAB = 600  # trained BPE tokens, special tokens included
# RealToxicityPrompts-like prompts of different lengths, the toys' test prompts
PROMPTS = tuple(dict.fromkeys(r["prompt"]["text"] for r in rtp_records(seed=5)))[:8]
NEW_TOKENS = 16  # greedy steps in the tests; Gemma-2's sliding window is shorter than a prompt

LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)
LLAMA31_TEMPLATE = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""
GEMMA_TEMPLATE = (  # gemma-2b-it and gemma-2-2b-it alike
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)


PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)
# Phi-3.5 leaves out an empty system message
PHI35_TEMPLATE = PHI3_TEMPLATE.replace(
    "message['role'] == 'system'", "message['role'] == 'system' and message['content']", 1
)


PROJECTIONS = ("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj")
FUSED_PROJECTIONS = ("down_proj", "gate_up_proj", "o_proj", "qkv_proj")  # Phi-3's


@dataclass(frozen=True)
class Family:
    name: str
    model_class: str
    config: Callable[[dict[str, int], int], Any]  # (token ids, vocabulary size) -> config
    specials: tuple[str, ...]  # special tokens at the start of the vocabulary, in order
    added: tuple[str, ...]  # special tokens added after the vocabulary, in order
    bos: str
    eos: str
    chat_template: str
    generation: dict[str, Any]  # generation_config.json, token names for ids
    forced: str  # the special token some greedy continuations are made to write
    features: dict[str, Any]  # config values the loaded model must have
    byte_level: bool = False  # byte-level BPE (Llama-3) rather than SentencePiece-like
    add_bos: bool = True  # the tokenizer puts bos in front by itself
    unk: str | None = None
    pad: str | None = None
    rstrip: tuple[str, ...] = ()  # added tokens that swallow the whitespace after them
    target_modules: tuple[str, ...] = PROJECTIONS  # what the LoRA adapter lands on, sorted

    def stop_ids(self, ids: dict[str, int]) -> dict[str, set[int]]:
        """The eos ids of each stop rule, as finetox documents them."""
        listed = self.generation["eos_token_id"]
        listed = [listed] if isinstance(listed, str) else listed
        return {"tokenizer_eos": {ids[self.eos]}, "generation_config": {ids[t] for t in listed}}


def _sizes(num_key_value_heads: int) -> dict[str, int]:
    return {
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": num_key_value_heads,
    }


def _llama2_config(ids: dict[str, int], vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        **_sizes(num_key_value_heads=HEADS),
        vocab_size=vocab_size,
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        bos_token_id=ids["<s>"],
        eos_token_id=ids["</s>"],
    )


LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}
LLAMA31_EOS = ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"]


def _llama31_config(ids: dict[str, int], vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        **_sizes(num_key_value_heads=HEADS // 2),
        vocab_size=vocab_size,
        max_position_embeddings=131072,
        rope_parameters=dict(LLAMA3_ROPE),
        rms_norm_eps=1e-5,
        bos_token_id=ids["<|begin_of_text|>"],
        eos_token_id=[ids[token] for token in LLAMA31_EOS],
    )


def _gemma_config(ids: dict[str, int], vocab_size: int):
    from transformers import GemmaConfig

    return GemmaConfig(
        **_sizes(num_key_value_heads=1),
        head_dim=GEMMA_HEAD_DIM,
        vocab_size=vocab_size,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        # at 0.02 the layers are drowned by the tied embeddings (scaled by sqrt(hidden_size)):
        # every continuation repeats the prompt's last token
        initializer_range=0.2,
        pad_token_id=ids["<pad>"],
        eos_token_id=ids["<eos>"],
        bos_token_id=ids["<bos>"],
    )


GEMMA2_WINDOW = 8  # tokens: shorter than the prompts, so the window cuts off their start
GEMMA2_CAPS = {"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0}


def _gemma2_config(ids: dict[str, int], vocab_size: int):
    from transformers import Gemma2Config

    return Gemma2Config(
        **_sizes(num_key_value_heads=HEADS // 2),
        head_dim=GEMMA_HEAD_DIM,
        query_pre_attn_scalar=GEMMA_HEAD_DIM,
        sliding_window=GEMMA2_WINDOW,
        **GEMMA2_CAPS,
        vocab_size=vocab_size,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        pad_token_id=ids["<pad>"],
        eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]],
        bos_token_id=ids["<bos>"],
    )


PHI3_FEATURES = {
    "max_position_embeddings": 4096,
    "original_max_position_embeddings": 4096,
    "sliding_window": 2047,
}
# Phi-3.5's factors rise from 1 to about 3 (short) and to about 60 (long) over the rotary dims
PHI35_FEATURES = {
    "max_position_embeddings": 131072,
    "original_max_position_embeddings": 4096,
    "sliding_window": 262144,
    "rope_parameters": {
        "rope_type": "longrope",
        "short_factor": [1.0, 1.02, 1.05, 1.1, 1.2, 1.4, 1.8, 2.6],
        "long_factor": [1.0, 1.2, 1.9, 3.4, 7.0, 15.0, 30.0, 60.0],
    },
}


def _phi3_config(ids: dict[str, int], vocab_size: int, features: dict[str, Any]):
    from transformers import Phi3Config

    return Phi3Config(
        **_sizes(num_key_value_heads=HEADS),
        vocab_size=vocab_size,
        bos_token_id=ids["<s>"],
        eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"],
        **copy.deepcopy(features),
    )


LLAMA2 = Family(
    name="llama-2",
    model_class="LlamaForCausalLM",
    config=_llama2_config,
    specials=("<unk>", "<s>", "</s>"),
    added=(),
    bos="<s>",
    eos="</s>",
    unk="<unk>",
    chat_template=LLAMA2_TEMPLATE,
    generation={
        "bos_token_id": "<s>",
        "eos_token_id": "</s>",
        "pad_token_id": "<unk>",
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.9,
        "max_length": 4096,
    },
    forced="</s>",  # its end of turn is its eos: both rules stop there
    features={"num_key_value_heads": HEADS},
)
LLAMA31 = Family(
    name="llama-3.1",
    model_class="LlamaForCausalLM",
    config=_llama31_config,
    specials=(),
    added=(
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eom_id|>",
        "<|eot_id|>",
    ),
    byte_level=True,
    bos="<|begin_of_text|>",
    eos="<|eot_id|>",  # the hub tokenizer's since August 2024 (it was <|end_of_text|>)
    chat_template=LLAMA31_TEMPLATE,
    generation={
        "bos_token_id": "<|begin_of_text|>",
        "eos_token_id": LLAMA31_EOS,
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.9,
    },
    forced="<|end_of_text|>",  # only the generation_config rule stops there
    features={"num_key_value_heads": HEADS // 2, "rope_parameters": LLAMA3_ROPE},
)
GEMMA_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")
GEMMA = Family(
    name="gemma",
    model_class="GemmaForCausalLM",
    config=_gemma_config,
    specials=GEMMA_TOKENS,
    added=(),
    bos="<bos>",
    eos="<eos>",
    unk="<unk>",
    pad="<pad>",
    chat_template=GEMMA_TEMPLATE,
    generation={"bos_token_id": "<bos>", "eos_token_id": "<eos>", "pad_token_id": "<pad>"},
    forced="<end_of_turn>",  # no rule stops there: gemma-2b-it's generation config lacks it
    features={"num_key_value_heads": 1, "head_dim": GEMMA_HEAD_DIM, "tie_word_embeddings": True},
)
# Gemma's tokens and chat template, Gemma-2's architecture and generation config
GEMMA2 = replace(
    GEMMA,
    name="gemma-2",
    model_class="Gemma2ForCausalLM",
    config=_gemma2_config,
    generation={
        "bos_token_id": "<bos>",
        "eos_token_id": ["<eos>", "<end_of_turn>"],
        "pad_token_id": "<pad>",
        "cache_implementation": "hybrid",
    },
    forced="<end_of_turn>",  # only the generation_config rule stops there
    features={
        "sliding_window": GEMMA2_WINDOW,
        "layer_types": ["sliding_attention", "full_attention"],
        **GEMMA2_CAPS,
    },
)
PHI3_ADDED = ("<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>")
PHI3_TOKENS = {
    "model_class": "Phi3ForCausalLM",
    "specials": ("<unk>", "<s>", "</s>"),
    "added": PHI3_ADDED,
    "bos": "<s>",
    "eos": "<|endoftext|>",
    "unk": "<unk>",
    "pad": "<|endoftext|>",
    "add_bos": False,
    "rstrip": PHI3_ADDED[1:],
    "forced": "<|end|>",  # only the generation_config rule stops there
    "target_modules": FUSED_PROJECTIONS,
}
PHI3 = Family(
    name="phi-3",
    config=functools.partial(_phi3_config, features=PHI3_FEATURES),
    chat_template=PHI3_TEMPLATE,
    generation={
        "bos_token_id": "<s>",
        "eos_token_id": ["<|endoftext|>", "<|assistant|>", "<|end|>"],
        "pad_token_id": "<|endoftext|>",
    },
    features=PHI3_FEATURES,
    **PHI3_TOKENS,
)
PHI35 = Family(
    name="phi-3.5",
    config=functools.partial(_phi3_config, features=PHI35_FEATURES),
    chat_template=PHI35_TEMPLATE,
    generation={
        "bos_token_id": "<s>",
        "eos_token_id": ["<|end|>", "<|assistant|>", "<|endoftext|>"],
        "pad_token_id": "<|endoftext|>",
    },
    features=PHI35_FEATURES,
    **PHI3_TOKENS,
)
FAMILIES = {family.name: family for family in (LLAMA2, LLAMA31, GEMMA, GEMMA2, PHI3, PHI35)}


# ---------------------------------------------------------------------------------------------
# The tokenizer


def build_tokenizer(family: Family):
    """A BPE tokenizer trained here, with the family's special tokens where the family has them
    (no byte fallback: text outside the training corpus may come out as <unk>)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=family.unk))
    if family.byte_level:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        alphabet = list("<>|/[]\n")
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=list(family.specials),
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(), trainer)
    tokenizer.add_special_tokens(
        [
            AddedToken(token, rstrip=token in family.rstrip, normalized=False, special=True)
            for token in family.added
        ]
    )
    if family.add_bos:
        _prepend_bos(tokenizer, family.bos)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=family.bos,
        eos_token=family.eos,
        unk_token=family.unk,
        pad_token=family.pad,
    )
    fast.chat_template = family.chat_template
    return fast


def _prepend_bos(tokenizer, bos: str) -> None:
    from tokenizers import processors

    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A",
        pair=f"{bos} $A {bos} $B",
        special_tokens=[(bos, tokenizer.token_to_id(bos))],
    )


def token_ids(tokenizer, family: Family) -> dict[str, int]:
    names = {*family.specials, *family.added, family.bos, family.eos}
    return {name: tokenizer.convert_tokens_to_ids(name) for name in names}


# ---------------------------------------------------------------------------------------------
# The model


def generation_config(family: Family, ids: dict[str, int]):
    from transformers import GenerationConfig

    def resolved(key: str, value: Any) -> Any:
        if not key.endswith("_token_id"):
            return value
        return [ids[v] for v in value] if isinstance(value, list) else ids[value]

    return GenerationConfig(**{k: resolved(k, v) for k, v in family.generation.items()})


def random_model(family: Family, tokenizer, seed: int):
    from transformers import AutoModelForCausalLM

    config = family.config(token_ids(tokenizer, family), len(tokenizer))
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()


def greedy_runs(model, tokenizer, texts, max_new_tokens: int) -> list[list[int]]:
    """Each text's greedy continuation, one at a time, run to the length limit (no eos)."""
    runs = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
        with torch.no_grad():
            for _ in range(max_new_tokens):
                next_id = model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)
                ids = torch.cat([ids, next_id], dim=1)
        runs.append(ids[0, -max_new_tokens:].tolist())
    return runs


def force_token(model, tokenizer, token_id: int, texts=PROMPTS) -> int:
    """Make greedy continuations write `token_id` where they would write some token X: one that
    first shows up after a few steps in some, not all, continuations of `texts`. The token gets
    X's output row times 1.1, so it outscores X wherever X wins with a positive logit (with
    Gemma's tied embeddings its input row changes too, which matters only after it). Returns X."""
    runs = greedy_runs(model, tokenizer, texts, NEW_TOKENS)
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    shares: dict[int, int] = {}
    for run in runs:
        for token in set(run[3:]) - set(run[:3]) - special:
            shares[token] = shares.get(token, 0) + 1
    candidates = [t for t, n in shares.items() if n < len(runs)]
    chosen = max(candidates, key=lambda t: (shares[t], -t))
    with torch.no_grad():
        rows = model.get_output_embeddings().weight
        rows[token_id] = rows[chosen] * 1.1
    return chosen


def build_toy(family: Family, folder: Path, seed: int = 0) -> Path:
    """The family's toy in `folder`: weights, config, generation config, tokenizer."""
    tokenizer = build_tokenizer(family)
    model = random_model(family, tokenizer, seed)
    ids = token_ids(tokenizer, family)
    force_token(model, tokenizer, ids[family.forced])
    model.generation_config = generation_config(family, ids)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
