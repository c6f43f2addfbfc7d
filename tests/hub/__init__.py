"""A local stand-in of the Hugging Face Hub for the tests (`pytest -m hub`): server.py speaks the
protocol, repos.py builds the repositories of config/config.yaml, conftest.py starts both and
worker processes whose HF_ENDPOINT points at it. Test support code, not part of finetox."""
