from finetox.demo.tiny_guard import build_demo_guard
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    build_demo_guard(snakemake.output[0], seed=snakemake.params.seed, threads=snakemake.threads)
