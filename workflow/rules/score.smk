# Scoring generations with toxicity classifiers.
