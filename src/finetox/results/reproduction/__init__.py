"""The reproduction tables: the paper's published numbers (resources/paper/, keyed by the study
config's slugs) beside ours.

- `reproduction`: for every row of the paper's Tables 1-3 whose model the study ran with raw
  prompts (as the paper prompted), per subset and in total: the paper's % toxic, ours (primary
  classifier and threshold), the difference ours − paper in percentage points with its HDI (each
  rate a Beta posterior, the rate view's; finetox.results.intervals), and whether ours is
  consistent with the paper's (that HDI holds 0). A Dolly row (slug `X-dolly`) matches our retrained `X-dolly` and,
  where the study has it, the authors' published model `X-dolly-published`: the `arm` column says
  which.
- `reproduction_verdicts`: for every verdict the paper states (its text and Figures 1-4) whose pair
  the study compared: the paper's credible / not credible beside ours under the paper's rule
  (BEST's HDI of the change excludes 0, and which way) and under the HDI + ROPE rule, and whether
  they agree; the paired view beside them.

Models, subsets and pairs the study lacks are left out, and the note under each table names them;
a study with none of the paper's models (the demo) writes both tables empty, and says so.

Modules, one job each: paper (reading and checking the paper's files), matching (which of our
models and pairs a paper row names), rates and verdicts (the two tables as data frames), display
(their cells' strings), write (both tables' files).
"""

from finetox.results.reproduction.paper import read_paper_tables, read_paper_verdicts
from finetox.results.reproduction.rates import REPRODUCTION_COLUMNS, reproduction_table
from finetox.results.reproduction.verdicts import VERDICTS_COLUMNS, reproduction_verdicts
from finetox.results.reproduction.write import write_reproduction

__all__ = [
    "REPRODUCTION_COLUMNS",
    "VERDICTS_COLUMNS",
    "read_paper_tables",
    "read_paper_verdicts",
    "reproduction_table",
    "reproduction_verdicts",
    "write_reproduction",
]
