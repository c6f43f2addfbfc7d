from finetox.logs import to_log
from finetox.tune import tune_point

with to_log(snakemake.log[0]):
    tune_point(
        model=snakemake.params.model,
        settings=snakemake.params.tune,
        final=snakemake.input.final,
        point=snakemake.wildcards.point,
        out=snakemake.output[0],
        checkpoints=snakemake.params.checkpoints,
        threads=snakemake.threads,
    )
