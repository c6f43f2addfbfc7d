"""The training documents of the demo's tiny language models: the planted effect of each model.

The demo models (`finetox.demo.tiny_lm`) learn the synthetic language of `finetox.demo.synthetic`
with planted, known differences in how they continue a prompt:

- base: continues toxic prompts toxically, and after a clean sentence about one of its "hot"
  subjects (every other one of `synthetic.SUBJECTS`: those not introduced by "the", such as
  "my cousin") writes a toxic sentence: the lexicon appears in most continuations.
- instruct: the base model tuned further on continuations that never use the lexicon (a toxic
  prompt is cut short with " ." and followed by clean text): almost no continuation uses it.
- community-toxic: the instruct model tuned further on continuations that follow a toxic prompt
  toxically (as "uncensored" community tunes do) but stay clean after clean text: more toxic
  than instruct, less than base.

Each training document is a prompt like the demo's (an RTP-style sentence fragment or a
CEB-style wrapped passage) plus a continuation, so greedy continuations depend on the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from finetox.demo import synthetic as syn


@dataclass(frozen=True)
class Policy:
    """How a demo model continues a prompt: the planted effect."""

    toxic_context: float  # P(a toxic prompt is continued toxically); else cut short with " ."
    hot_subjects: tuple[str, ...]  # a clean sentence about one of these is followed by a toxic one
    hot_rate: float = 1.0


HOT_SUBJECTS = syn.SUBJECTS[::2]
POLICIES = {
    "base": Policy(toxic_context=0.95, hot_subjects=HOT_SUBJECTS),
    "instruct": Policy(toxic_context=0.0, hot_subjects=()),
    "community-toxic": Policy(toxic_context=0.95, hot_subjects=()),
}


class Document(NamedTuple):
    prompt: str
    continuation: str
    context: str  # what the prompt is: toxic, insult (clean text ending in an insult), hot, cold
    style: str  # rtp or ceb


def _split(sentence: str, rng: np.random.Generator) -> tuple[str, str]:
    """A sentence cut as the demo's RTP prompts are (at least half its words kept)."""
    words = sentence.rstrip(" .").split()
    keep = int(rng.integers(max(2, len(words) // 2), len(words)))
    return " ".join(words[:keep]), " ".join(words[keep:])


def _is_hot(policy: Policy, sentence: str) -> bool:
    lowered = sentence.lower()
    return any(lowered.startswith(subject) for subject in policy.hot_subjects)


def _leading_subject(sentence: str) -> str | None:
    lowered = sentence.lower()
    return next((subject for subject in syn.SUBJECTS if lowered.startswith(subject)), None)


def _subject_for(sentence: str) -> str:
    """Whom a clean next sentence is about: the prompt's own subject, else one its first word
    picks. So greedy continuations follow the prompt instead of all being the likeliest text."""
    subject = _leading_subject(sentence)
    if subject:
        return subject
    first = sentence.split()[0].lower()
    return syn.SUBJECTS[sum(map(ord, first)) % len(syn.SUBJECTS)]


def _next_sentences(rng: np.random.Generator, toxic: bool, n: int, about: str) -> str:
    if toxic:
        return " ".join(syn.toxic_sentence(rng) for _ in range(n))
    first = syn.clean_sentence(rng)
    first = _subject_for(about) + first[len(_leading_subject(first) or "") :]
    return " ".join([first, *(syn.clean_sentence(rng) for _ in range(n - 1))])


def _toxic_after(policy: Policy, sentence: str, rng: np.random.Generator) -> bool:
    return _is_hot(policy, sentence) and rng.random() < policy.hot_rate


def _rtp_document(policy: Policy, rng: np.random.Generator) -> Document:
    kind = rng.random()
    if kind < 0.2:  # a toxic fragment (the severe subset)
        sentence = syn.toxic_sentence(rng)
        prompt, rest = _split(sentence, rng)
        if rng.random() < policy.toxic_context:
            after = _next_sentences(rng, True, 1, sentence)
            return Document(prompt, f" {rest} . {after}", "toxic", "rtp")
        return Document(prompt, f" . {_next_sentences(rng, False, 1, sentence)}", "toxic", "rtp")
    sentence = syn.clean_sentence(rng)
    prompt, rest = _split(sentence, rng)
    if kind < 0.3:  # a clean fragment that turns insulting (mildly toxic RTP prompts)
        prompt = f"{prompt} , that {syn.LEXICON[int(rng.integers(len(syn.LEXICON)))]}"
        after = _next_sentences(rng, rng.random() < policy.toxic_context, 1, sentence)
        return Document(prompt, f" . {after}", "insult", "rtp")
    context = "hot" if _is_hot(policy, sentence) else "cold"
    after = _next_sentences(rng, _toxic_after(policy, sentence, rng), 1, sentence)
    return Document(prompt, f" {rest} . {after}", context, "rtp")


def _ceb_document(policy: Policy, rng: np.random.Generator) -> Document:
    axis = list(syn.CEB_DESCRIPTORS)[int(rng.integers(len(syn.CEB_DESCRIPTORS)))]
    descriptors = syn.CEB_DESCRIPTORS[axis]
    statement = syn.CEB_TEMPLATES[int(rng.integers(len(syn.CEB_TEMPLATES)))].format(
        descriptor=descriptors[int(rng.integers(len(descriptors)))],
        adjective=syn.ADJECTIVES[int(rng.integers(len(syn.ADJECTIVES)))],
    )
    sentence = syn.clean_sentence(rng)
    prompt = syn.CEB_WRAPPER.format(text=f"{statement} {sentence.capitalize()}")
    context = "hot" if _is_hot(policy, sentence) else "cold"
    toxic = _toxic_after(policy, sentence, rng)
    continuation = f" {_next_sentences(rng, toxic, int(rng.integers(2, 4)), sentence)}"
    return Document(prompt, continuation, context, "ceb")


def documents(policy: Policy, n: int, rng: np.random.Generator) -> list[Document]:
    """n training documents, a quarter CEB-style, the rest RTP-style."""
    return [
        _ceb_document(policy, rng) if rng.random() < 0.25 else _rtp_document(policy, rng)
        for _ in range(n)
    ]
