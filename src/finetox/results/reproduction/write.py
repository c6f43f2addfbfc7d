"""Writing both reproduction tables from the study's score and comparison files and the paper's."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from finetox import paths
from finetox.io import InputError
from finetox.results import captions
from finetox.results.counts import model_percents
from finetox.results.inputs import SETTINGS, ComparisonFile, files_by_stem, read_comparison
from finetox.results.reproduction.display import reproduction_display, verdicts_display
from finetox.results.reproduction.matching import listed, matched_models, matched_pairs
from finetox.results.reproduction.paper import read_paper_tables, read_paper_verdicts
from finetox.results.reproduction.rates import reproduction_table
from finetox.results.reproduction.verdicts import reproduction_verdicts
from finetox.results.write import write_table_files
from finetox.subsets import SUBSETS

log = logging.getLogger("finetox.results")


def _settings(files: Mapping[str, ComparisonFile], hdi_prob: float) -> dict[str, float]:
    """hdi_prob (and the ROPEs) of the comparison files, one value each across them; the config's
    hdi_prob where there are none."""
    if not files:
        return {"hdi_prob": hdi_prob}
    values = {}
    for key in SETTINGS:
        found = {getattr(file, key) for file in files.values()}
        if len(found) > 1:
            listed = ", ".join(f"{file.path}: {getattr(file, key):g}" for file in files.values())
            raise InputError(
                f"the comparison files disagree on {key} ({listed}); compare their pairs again "
                f"with one {key}"
            )
        values[key] = found.pop()
    return values


def write_reproduction(
    layout: Mapping[str, Any],
    scores: Iterable[str | os.PathLike],
    comparisons: Iterable[str | os.PathLike],
    paper_tables: str | os.PathLike | None = None,
    paper_verdicts: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Both reproduction tables, in every table format, under `out_dir`, from the score files of
    the study's raw-prompt models and their comparison files (others are ignored)."""
    spec = layout["reproduction"]
    paper = read_paper_tables(paper_tables or spec["paper"]["tables"])
    verdicts = read_paper_verdicts(paper_verdicts or spec["paper"]["verdicts"])
    models = matched_models(paper, spec["models"])
    by_model = files_by_stem(scores, ".parquet")
    missing = [model for model in models if model not in by_model]
    if missing:
        raise InputError(f"no score file for model(s) {missing}")
    classifiers = [c["name"] for c in layout["classifiers"]]
    percents = model_percents({model: by_model[model] for model in models}, classifiers)
    by_pair = files_by_stem(comparisons, ".csv")
    # the primary classifier's rows, as Tables 1-3 read them
    files = {p: read_comparison(by_pair[p], classifiers[0]) for p in spec["pairs"] if p in by_pair}
    missing = [pair for pair in matched_pairs(verdicts, spec["pairs"]) if pair not in files]
    if missing:
        raise InputError(f"no comparison file for pair(s) {missing}")
    settings = _settings(files, spec["hdi_prob"])
    hdi_prob = settings["hdi_prob"]

    table, table_notes = reproduction_table(paper, percents, hdi_prob, layout["subsets"])
    labels = {name: model["label"] for name, model in layout["models"].items()}
    compared, verdict_notes = reproduction_verdicts(verdicts, files, labels)
    own = [subset for subset in layout["subsets"] if subset not in SUBSETS]
    if own and not compared.empty:
        verdict_notes.append(
            f"Our Total verdicts are over every subset of the study, its own prompt sources' "
            f"({listed(own)}) included; the paper's over its six."
        )
    out_dir = Path(out_dir or paths.tables_dir())
    primary = layout["classifiers"][0]
    written = write_table_files(
        table, reproduction_display(table, hdi_prob), out_dir / spec["tables"],
        captions.REPRODUCTION_CAPTION,
        captions.reproduction_note(
            primary["name"], primary["threshold"], hdi_prob, table_notes, empty=table.empty
        ),
    )  # fmt: skip
    written += write_table_files(
        compared, verdicts_display(compared, hdi_prob), out_dir / spec["verdicts"],
        captions.REPRODUCTION_VERDICTS_CAPTION,
        captions.reproduction_verdicts_note(settings, verdict_notes, empty=compared.empty),
    )  # fmt: skip
    _log(table, compared, paper)
    return written


def _log(table: pd.DataFrame, verdicts: pd.DataFrame, paper: pd.DataFrame) -> None:
    consistent = int(table["consistent"].sum()) if not table.empty else 0
    agree = int(verdicts["best_agrees"].fillna(False).sum()) if not verdicts.empty else 0
    log.info(
        "reproduction: %d of the paper's %d models run; ours consistent with the paper's (the HDI "
        "of the difference holds 0) in %d of %d rows; %d verdict rows, %d agreeing with the paper "
        "under its rule",
        table["slug"].nunique(), paper["slug"].nunique(), consistent, len(table), len(verdicts),
        agree,
    )  # fmt: skip
