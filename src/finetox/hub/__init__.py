"""The Hugging Face Hub path: resolving ids and revisions to commits (resolve), checking a config
before GPU hours (preflight), and finding a base model's community fine-tunes (discover)."""
