from finetox.estimation import compare_file
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    compare_file(
        snakemake.input.a,
        snakemake.input.b,
        snakemake.output.table,
        posterior=snakemake.output.draws,
        estimation=snakemake.params.estimation,
        pair=snakemake.params.pair,
        cores=snakemake.threads,
    )
