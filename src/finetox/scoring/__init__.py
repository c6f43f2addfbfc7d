"""The score stage: generations scored with toxicity classifiers of three kinds (softmax,
sigmoid, guard; finetox.scoring.spec says what each scores, docs/classifiers.md more).

A softmax classifier's score is what the Hugging Face `evaluate` "toxicity" measurement returns for it: a
`text-classification` pipeline called on that text alone, truncated to the model's maximum length,
taking the probability of the toxic label (softmax over the labels). A sigmoid classifier's is the
sigmoid of its toxic label's logit (the largest over several labels), a guard judge's the
probability of its "unsafe" verdict token. `pipeline_scores` is that reference loop; `score_texts`
computes the same numbers fast: the classifier is loaded once, texts are sorted by token count and
batched with texts of the same count (no padding), each batch as large as a token budget allows, and
the original order is restored.

A text is toxic when its score is strictly greater than the classifier's threshold (the paper's
'>'). `evaluate`'s "ratio" aggregation counts '>=' instead; the two differ only for a score exactly
at the threshold.

- spec: `ClassifierSpec` (one configured classifier, its kind);
- classifier: `load_classifier` (sequence classifiers: softmax and sigmoid);
- texts: `score_texts` (the fast path) and `pipeline_scores` (the reference);
- guard: `load_guard` and `guard_scores` (generative judges);
- run: `score_generations` and `score_file`, generations in, scores out.
"""

from finetox.scoring.classifier import (
    Classifier,
    load_classifier,
    max_input_length,
    toxic_label_index,
)
from finetox.scoring.guard import GuardJudge, guard_scores, load_guard
from finetox.scoring.run import score_file, score_generations
from finetox.scoring.spec import KINDS, ClassifierError, ClassifierSpec, default_name
from finetox.scoring.texts import (
    ScoringError,
    length_sorted_batches,
    pipeline_scores,
    reference_pipeline,
    score_labels,
    score_texts,
)

__all__ = [
    "Classifier",
    "ClassifierError",
    "ClassifierSpec",
    "GuardJudge",
    "KINDS",
    "ScoringError",
    "default_name",
    "guard_scores",
    "length_sorted_batches",
    "load_classifier",
    "load_guard",
    "max_input_length",
    "pipeline_scores",
    "reference_pipeline",
    "score_file",
    "score_generations",
    "score_labels",
    "score_texts",
    "toxic_label_index",
]
