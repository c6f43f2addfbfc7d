"""The compare stage: two models' toxicity per subset, by BEST as in the paper and by toxic rate."""

from finetox.compare.run import COLUMNS, CompareError, compare_file, compare_scores
from finetox.compare.settings import Priors, Settings

__all__ = ["COLUMNS", "CompareError", "Priors", "Settings", "compare_file", "compare_scores"]
