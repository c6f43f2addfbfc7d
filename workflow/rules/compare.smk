# Pairwise comparisons: BEST and rate-based.
