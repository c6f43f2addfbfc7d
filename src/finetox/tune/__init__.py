"""The tune stage: Dolly LoRA tuning, the authors' recipe with transformers' Trainer and peft.

The recipe (config `tune`, defaults = the authors' unsloth/trl notebook): base in 4-bit NF4 when CUDA
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
  double bos (Unsloth's patch of trl's SFTTrainer turns trl's added special tokens off when the
  text already starts with the bos, so the authors' run had one too). Where the bos is another token (Gemma `<bos>`, Llama-3 `<|begin_of_text|>`), `<s>` stays
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
  in place, unless the run has a trajectory (`tune.trajectory`): then every checkpoint is kept,
  and each point's adapter (`tune_point`) is copied from the checkpoint at its step, or trained
  on to its step from the nearest earlier one with the run's own schedule.

Modules: settings (the tune section, the resolved recipe), data (Dolly records), render
(records as training sequences), model (target modules, 4-bit base, LoRA), training (Trainer,
checkpoints, loss curve), run (`tune_file`: the stage, files in and out), point (`tune_point`:
one point of a finished run's trajectory).
"""

from finetox.tune.point import tune_point
from finetox.tune.run import LOSS_CSV, tune_file
from finetox.tune.settings import resolve_recipe, tune_settings

__all__ = ["LOSS_CSV", "resolve_recipe", "tune_file", "tune_point", "tune_settings"]
