from finetox.logs import to_log
from finetox.tune import tune_file

with to_log(snakemake.log[0]):
    tune_file(
        model=snakemake.params.model,
        settings=snakemake.params.tune,
        out=snakemake.output[0],
        checkpoints=snakemake.params.checkpoints,
        threads=snakemake.threads,
    )
