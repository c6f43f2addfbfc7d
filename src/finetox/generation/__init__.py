"""The generate stage: greedy continuations of the prompt set, one model at a time.

- decoding: the pure part, `generate(model, tokenizer, texts)`, batched and exact;
- prompt_table: the prompt table, read and checked;
- model: a model's settings, checked; its tokenizer, context length and weights loaded;
- lengths: prompt lengths against the model's context (error, or cut on the left);
- parts: the part folder of finished batches, resumable after a kill;
- output: the generations file and its metadata;
- run: `generate_file`, prompts in and generations out, the above in order.
"""

from finetox.generation.decoding import PROMPT_FORMATS, Continuation, encode_prompts, generate
from finetox.generation.lengths import ON_LONG_PROMPT
from finetox.generation.model import load_model, model_settings
from finetox.generation.output import OUTPUT_COLUMNS
from finetox.generation.parts import part_folder
from finetox.generation.prompt_table import read_prompts
from finetox.generation.run import generate_file

__all__ = [
    "ON_LONG_PROMPT",
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
