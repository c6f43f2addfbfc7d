from finetox.finetune import finetune_file
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    finetune_file(
        model=snakemake.params.model,
        lora=snakemake.params.lora,
        out=snakemake.output[0],
        checkpoints=snakemake.params.checkpoints,
        threads=snakemake.threads,
    )
