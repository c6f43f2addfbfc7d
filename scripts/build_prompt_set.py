from finetox.logs import to_log
from finetox.prompts import build_prompt_set

with to_log(snakemake.log[0]):
    build_prompt_set(
        snakemake.params.prompts,
        out=snakemake.output.prompts,
        manifest=snakemake.output.manifest,
    )
