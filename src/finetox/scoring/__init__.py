"""The score stage: generations scored with toxicity classifiers.

A text's score is what the Hugging Face `evaluate` "toxicity" measurement returns for it: a
`text-classification` pipeline called on that text alone, truncated to the model's maximum length,
taking the probability of the toxic label (softmax over the labels; the pipeline's sigmoid for a
one-logit or multi-label classifier). `pipeline_scores` is that reference loop; `score_texts`
computes the same numbers fast: the classifier is loaded once, texts are sorted by token count and
batched with texts of the same count (no padding), each batch as large as a token budget allows, and
the original order is restored.

A text is toxic when its score is strictly greater than the classifier's threshold (the paper's
'>'). `evaluate`'s "ratio" aggregation counts '>=' instead; the two differ only for a score exactly
at the threshold.

- classifier: `ClassifierSpec` (one configured classifier), `load_classifier`;
- texts: `score_texts` (the fast path) and `pipeline_scores` (the reference);
- run: `score_generations` and `score_file`, generations in, scores out.
"""

from finetox.scoring.classifier import (
    Classifier,
    ClassifierError,
    ClassifierSpec,
    default_name,
    load_classifier,
    max_input_length,
    toxic_label_index,
)
from finetox.scoring.run import score_file, score_generations
from finetox.scoring.texts import (
    ScoringError,
    length_sorted_batches,
    pipeline_scores,
    reference_pipeline,
    score_texts,
)

__all__ = [
    "Classifier",
    "ClassifierError",
    "ClassifierSpec",
    "ScoringError",
    "default_name",
    "length_sorted_batches",
    "load_classifier",
    "max_input_length",
    "pipeline_scores",
    "reference_pipeline",
    "score_file",
    "score_generations",
    "score_texts",
    "toxic_label_index",
]
