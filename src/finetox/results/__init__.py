"""The results stage: the paper's tables (1-3 and Appendix A), the verdicts beside them, a
classifier sensitivity view, the figures, and the reproduction tables (our numbers and verdicts
beside the paper's published ones), from finished score and comparison files.

Aggregation only. Modules, one job each:
- layout: which tables and figures a study has, as plain data (the rules' outputs come from it);
- counts: percent toxic per model and subset, from the score files' flags;
- inputs: the score and comparison files, checked (a comparison file carries its HDI mass and
  ROPE half-widths; every change in it is B - A, tuned minus original);
- tables: the tables as data frames; render: their display strings, Markdown, LaTeX and HTML;
- captions: the tables' captions and notes; changes: the prompts whose scores changed most;
- write: write_tables (the tables and the changes page); figures: plot_figures, which draws
  forest: the forest plots, and heatmap: the toxic-rate heatmap, saved by drawing;
- reproduction: write_reproduction (the paper's numbers, resources/paper/, beside ours);
  intervals: the exact HDI of a toxic rate's Beta posterior.

Here only the layout, so that the workflow can read it without pandas or matplotlib.
"""

from finetox.results.layout import (
    changes_files,
    figure_files,
    reproduction_files,
    results_layout,
    table_files,
    table_names,
)

__all__ = [
    "changes_files",
    "figure_files",
    "reproduction_files",
    "results_layout",
    "table_files",
    "table_names",
]
