from pathlib import Path

from finetox.demo.tiny_lm import build_demo_models
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    build_demo_models(Path(snakemake.output.base).parent, seed=snakemake.params.seed)
