"""The compare stage: how a tuned model's toxicity differs from its original's, per subset and
in total, as the change B - A in three views (paired toxic rate, toxic rate, BEST's mean score),
each read with the HDI + ROPE decision rule."""

from finetox.compare.files import CLASSIFIER, Outputs, compare_file
from finetox.compare.pairing import CompareError
from finetox.compare.run import COLUMNS, compare_scores
from finetox.compare.settings import Priors, Rope, Settings

__all__ = [
    "CLASSIFIER",
    "COLUMNS",
    "CompareError",
    "Outputs",
    "Priors",
    "Rope",
    "Settings",
    "compare_file",
    "compare_scores",
]
