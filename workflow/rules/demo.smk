# Tiny local models for the offline demo and tests (config: demo.build_models).
