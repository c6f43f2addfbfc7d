from finetox.demo.tiny_classifier import build_demo_classifier
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    build_demo_classifier(
        snakemake.output[0], seed=snakemake.params.seed, threads=snakemake.threads
    )
