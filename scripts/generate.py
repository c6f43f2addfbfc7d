from finetox.generation import generate_file
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    generate_file(
        model=snakemake.params.model,
        prompts=snakemake.input.prompts,
        out=snakemake.output[0],
        adapter=snakemake.input.adapter or None,
        threads=snakemake.threads,
        **snakemake.params.generation,
    )
