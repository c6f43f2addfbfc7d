from finetox.compare import Settings, compare_file
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    compare_file(
        snakemake.input.a,
        snakemake.input.b,
        snakemake.output.table,
        settings=Settings.from_section(snakemake.params.compare),
        posterior=snakemake.output.draws,
        pair=snakemake.params.pair,
        cores=snakemake.threads,
    )
