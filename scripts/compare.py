from finetox.compare import Outputs, Settings, compare_file
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    compare_file(
        snakemake.input.a,
        snakemake.input.b,
        Outputs(
            table=snakemake.output.table,
            posterior=snakemake.output.posterior,
            flips=snakemake.output.flips,
            json=snakemake.output.json,
        ),
        settings=Settings.from_section(snakemake.params.compare),
        pair=snakemake.params.pair,
        classifiers=snakemake.params.classifiers,
        cores=snakemake.threads,
    )
