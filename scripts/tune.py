from finetox.logs import to_log
from finetox.tune import tune_file

# keep_checkpoints is in the rule's tune settings only when the study has a trajectory
settings = dict(snakemake.params.tune)
with to_log(snakemake.log[0]):
    tune_file(
        model=snakemake.params.model,
        keep_checkpoints=settings.pop("keep_checkpoints", False),
        settings=settings,
        out=snakemake.output[0],
        checkpoints=snakemake.params.checkpoints,
        threads=snakemake.threads,
    )
