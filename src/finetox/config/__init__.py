"""The study as config: the schema and its defaults, every problem at once, the model graph.

- schema: loading YAML and the schema, filling defaults, `section_defaults(name)` for a stage run
  without a study config, the schema's problems;
- validate: the checks of meaning (their error, `ConfigError`, lives in finetox.errors);
- models: `ModelSpec`, the evaluated models a family lists or derives;
- study: `Study`, `load_study`, `load_study_file`, the comparisons;
- reference: the Markdown reference of every key.
"""

from finetox.config.models import FORMAT_SUFFIX, ModelSpec
from finetox.config.reference import config_reference, update_reference
from finetox.config.schema import fill_defaults, load_schema, load_yaml, section_defaults
from finetox.config.sources import HUB_ID
from finetox.config.study import Study, build_study, load_study, load_study_file
from finetox.config.validate import validate
from finetox.errors import ConfigError

__all__ = [
    "FORMAT_SUFFIX",
    "HUB_ID",
    "ConfigError",
    "ModelSpec",
    "Study",
    "build_study",
    "config_reference",
    "fill_defaults",
    "load_schema",
    "load_study",
    "load_study_file",
    "load_yaml",
    "section_defaults",
    "update_reference",
    "validate",
]
