from finetox.demo.tiny_multilabel import build_demo_multilabel
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    build_demo_multilabel(
        snakemake.output[0], seed=snakemake.params.seed, threads=snakemake.threads
    )
