"""The generate stage: greedy continuations of the prompt set, one model at a time.

- decoding: the pure part, `generate(model, tokenizer, texts)`, batched and exact;
- run: `generate_file`, prompts in and generations out, resumable after a kill.
"""

from finetox.generation.decoding import PROMPT_FORMATS, Continuation, encode_prompts, generate
from finetox.generation.run import (
    OUTPUT_COLUMNS,
    generate_file,
    load_model,
    model_settings,
    part_folder,
    read_prompts,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "PROMPT_FORMATS",
    "Continuation",
    "encode_prompts",
    "generate",
    "generate_file",
    "load_model",
    "model_settings",
    "part_folder",
    "read_prompts",
]
