# finetox: how fine-tuning changes the toxicity of open language models.
# Run: snakemake --cores N [--configfile config/demo.yaml] [--profile profiles/workstation]
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# finetox from this checkout, also where it is not installed (--sdm conda: an environment with
# only snakemake): parsing and planning import only its light modules (standard library, PyYAML,
# jsonschema: what snakemake itself needs), never pandas, numpy or torch (tests/test_parse_env.py)
sys.path.insert(0, os.path.join(workflow.basedir, "src"))


# The paper's study, unless a study is named on the command line (--configfile): Snakemake would
# otherwise merge the two, and the demo would plan the paper's 28 models as well.
if not workflow.overwrite_configfiles:
    # read strictly first: bad YAML or a key written twice is one line naming file and line
    from finetox.config.yaml_file import exit_on_bad_yaml

    exit_on_bad_yaml("config/config.yaml")

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/preflight.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/report.smk"
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
