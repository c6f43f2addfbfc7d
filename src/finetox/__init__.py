"""finetox: measure how fine-tuning changes the toxicity of open language models."""

__version__ = "0.1.0"
