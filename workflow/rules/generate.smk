# Generation: greedy continuations per model.
