# finetox: how fine-tuning changes the toxicity of open language models.
# Run: snakemake --cores N [--configfile config/demo.yaml] [--profile profiles/workstation]
from snakemake.utils import min_version

min_version("9.0")


# The paper's study, unless a study is named on the command line (--configfile): Snakemake would
# otherwise merge the two, and the demo would plan the paper's 28 models as well.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/prompts.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/results.smk"


rule all:
    default_target: True
    input:
        final_outputs,
