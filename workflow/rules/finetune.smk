# Dolly LoRA tuning of instruct models.
