"""Write every table of the layout as CSV (the numbers) and as Markdown, LaTeX and HTML (display
strings, captioned; the HTML is what the Snakemake report shows), and the page of the prompts
whose scores changed most (HTML and CSV)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from finetox import paths
from finetox.io import atomic_path, write_table
from finetox.results import captions
from finetox.results.changes import write_largest_changes
from finetox.results.classifier_outputs import classifier_outputs
from finetox.results.inputs import Inputs, check_rates_agree, load_inputs
from finetox.results.layout import table_names, table_pairs
from finetox.results.render import percents_display, rates_display, rendered, verdicts_display
from finetox.results.tables import (
    models_table,
    paired_marks,
    rates_table,
    verdicts_table,
)
from finetox.scores_file import scores_metadata
from finetox.subsets import TOTAL

log = logging.getLogger("finetox.results")


def write_tables(
    layout: Mapping[str, Any],
    scores: Iterable[str | os.PathLike],
    comparisons: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Every table of the layout, in every format, and the largest-changes page, under `out_dir`."""
    inputs = load_inputs(layout, scores, comparisons)
    out_dir = Path(out_dir or paths.tables_dir())
    written: list[Path] = []
    for table in layout["tables"]:
        written += _write_comparison_tables(table, layout, inputs, out_dir)
    written += _write_appendices(layout, inputs, out_dir)
    for table in classifier_outputs(layout, inputs):
        written += write_table_files(
            table.data, table.shown, out_dir / table.name, table.caption, table.note
        )
    written += write_largest_changes(layout, inputs, out_dir / layout["changes"])
    log.info("wrote %d tables (%d files) to %s", len(table_names(layout)), len(written), out_dir)
    return written


def _write_comparison_tables(
    table: Mapping[str, Any], layout: Mapping[str, Any], inputs: Inputs, out_dir: Path
) -> list[Path]:
    """A comparison table's rates (tuned rows marked with their paired verdicts) and its
    verdicts."""
    percents, frames = inputs.percents, inputs.frames(table)
    settings = inputs.settings(table)
    rates = rates_table(table, layout, percents)
    marks = paired_marks(table, layout, frames)
    written = write_table_files(
        rates, rates_display(rates, marks), out_dir / table["name"], table["title"],
        captions.rates_note(layout, percents, blocks=True, settings=settings),
    )  # fmt: skip
    verdicts = verdicts_table(table, layout, frames, percents)
    check_rates_agree(table_pairs(table), inputs.comparisons, percents)
    shown = verdicts_display(verdicts, settings.hdi_prob, settings.rope_pp, settings.rope_best)
    written += write_table_files(
        verdicts, shown, out_dir / table["verdicts"], captions.verdicts_caption(table),
        captions.verdicts_note(settings.hdi_prob, settings.rope_pp, settings.rope_best),
    )  # fmt: skip
    _log_table(table["name"], rates, verdicts)
    return written


def model_records(score_files: Mapping[str, str | os.PathLike], key: str) -> dict[str, Any]:
    """model -> `key` of the model record its generations file wrote ("commit": the commit or
    content hash; "found_as": a renamed repository's new name), as its score file carries it
    (None for files from elsewhere, before the record existed, or without that key)."""
    found = {}
    for model, path in score_files.items():
        generation = scores_metadata(path).get("generation") or {}
        found[model] = (generation.get("model") or {}).get(key)
    return found


def _write_appendices(layout: Mapping[str, Any], inputs: Inputs, out_dir: Path) -> list[Path]:
    """Appendix A (the models); what was Appendix B, total % toxic by classifier, is the Total
    column of classifier_rates (finetox.results.classifier_outputs)."""
    appendices = layout["appendices"]
    files = inputs.score_files
    models = models_table(
        layout, inputs.percents, model_records(files, "commit"), model_records(files, "found_as")
    )
    written = write_table_files(
        models, percents_display(models, ["Total"]), out_dir / appendices["models"],
        captions.MODELS_CAPTION, captions.rates_note(layout, inputs.percents),
    )  # fmt: skip
    return written


def write_table_files(
    data: pd.DataFrame, shown: pd.DataFrame, stem: str | os.PathLike, caption: str, note: str = ""
) -> list[Path]:
    """`data` as CSV; `shown` (display strings) as Markdown, LaTeX and HTML, captioned."""
    stem = Path(stem)
    out = {ext: stem.with_name(f"{stem.name}.{ext}") for ext in paths.TABLE_FORMATS}
    write_table(data, out["csv"])
    for ext, text in rendered(shown, caption, note, stem.name).items():
        with atomic_path(out[ext]) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return list(out.values())


def _log_table(name: str, rates: pd.DataFrame, verdicts: pd.DataFrame) -> None:
    total = verdicts[verdicts["subset"] == TOTAL]
    counts = total["paired_verdict"].value_counts()
    found = ", ".join(f"{counts[v]} {v}" for v in counts.index) or "none"
    log.info(
        "%s: %d models; paired verdicts of the %d pairs in total: %s",
        name, len(rates), len(total), found,
    )  # fmt: skip
