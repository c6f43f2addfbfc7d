"""The reproduction tables: the paper's published numbers (resources/paper/, keyed by the study
config's slugs) beside ours.

- `reproduction`: for every row of the paper's Tables 1-3 whose model the study ran with raw
  prompts (as the paper prompted), per subset and in total: the paper's % toxic, ours (primary
  classifier and threshold), the difference ours − paper in percentage points, and whether the
  paper's value lies inside our HDI of that rate (the rate view's Beta posterior,
  finetox.results.intervals). A Dolly row (slug `X-dolly`) matches our retrained `X-dolly` and,
  where the study has it, the authors' published model `X-dolly-published`: the `arm` column says
  which.
- `reproduction_verdicts`: for every verdict the paper states (its text and Figures 1-4) whose pair
  the study compared: the paper's credible / not credible beside ours under the paper's rule
  (BEST's HDI of the change excludes 0, and which way) and under the HDI + ROPE rule, and whether
  they agree; the paired view beside them.

Models, subsets and pairs the study lacks are left out, and the note under each table names them;
a study with none of the paper's models (the demo) writes both tables empty, and says so.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox import paths
from finetox.config.models import DOLLY_SUFFIX
from finetox.io import InputError, one_line
from finetox.pairs import pair_name
from finetox.results import captions
from finetox.results.counts import model_percents
from finetox.results.inputs import SETTINGS, ComparisonFile, files_by_stem, read_comparison
from finetox.results.intervals import rate_hdi
from finetox.results.render import fmt_pct
from finetox.results.write import write_table_files
from finetox.subsets import SUBSETS, TOTAL, subset_label
from finetox.verdicts import NOT_FITTED, in_words

log = logging.getLogger("finetox.results")

# the paper's files: their columns, in order
TABLE_COLUMNS = ["table", "family", "model_label", "slug", TOTAL, *SUBSETS]
VERDICT_COLUMNS = [
    "figure", "a", "b", "subset", "paper_credible", "paper_direction", "source_sentence",
]  # fmt: skip
PAPER_TABLES = (1, 2, 3)
# the paper's direction of a credible change, and the HDI + ROPE verdict that says the same
DIRECTIONS = {"b more toxic": "increase", "b less toxic": "decrease"}
# A paper 'not credible' (the HDI includes 0) agrees with a ROPE verdict that claims no change
NOT_CREDIBLE_VERDICTS = ("equivalent", "undecided")
# the arms of a paper Dolly row: our own retraining and the authors' published model (issue 14)
RETRAINED, PUBLISHED = "retrained", "published"
PUBLISHED_SUFFIX = "-published"
SUBSET_ORDER = (TOTAL, *SUBSETS)

REPRODUCTION_COLUMNS = [
    "table", "family", "model_paper", "slug", "arm", "model", "subset", "paper_pct", "ours_pct",
    "diff_pp", "toxic", "n", "hdi_low_pct", "hdi_high_pct", "hdi_prob", "paper_in_hdi",
]  # fmt: skip
VIEW_FIELDS = ("change", "hdi_low", "hdi_high", "credible", "direction", "agrees", "verdict",
               "rope_agrees")  # fmt: skip
VERDICTS_COLUMNS = [
    "figure", "a", "b", "arm", "pair", "model_a", "model_b", "subset", "paper_credible",
    "paper_direction", "best_fitted",
    *(f"best_{field}" for field in VIEW_FIELDS),
    *(f"paired_{field}" for field in VIEW_FIELDS),
    "hdi_prob", "rope_pp", "rope_best", "source_sentence",
]  # fmt: skip
# the comparison file's columns of each view: (change, HDI low, HDI high, paper's rule, verdict)
VIEW_SOURCES = {
    "best": ("best_change", "best_hdi_low", "best_hdi_high", "best_paper_credible",
             "best_verdict"),
    "paired": ("paired_change_pp", "paired_hdi_low_pp", "paired_hdi_high_pp",
               "paired_paper_credible", "paired_verdict"),
}  # fmt: skip


# --- the paper's files -------------------------------------------------------------------------


def _read_csv(path: str | os.PathLike, columns: Sequence[str]) -> pd.DataFrame:
    """A CSV as text cells, stripped, with the expected columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file (the paper's numbers: see resources/paper/)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as error:  # pandas raises many kinds; name the file whatever it was
        raise InputError(f"{path}: cannot be read as CSV: {one_line(error)}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame[list(columns)].map(lambda value: str(value).strip())


def _problems(path: str | os.PathLike, found: list[str]) -> None:
    if found:
        raise InputError("\n".join(f"{path}: {problem}" for problem in found))


def _line(index: int) -> str:
    return f"line {index + 2}"  # the header is line 1


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def read_paper_tables(path: str | os.PathLike) -> pd.DataFrame:
    """The paper's % toxic per model (Tables 1-3), checked: one line per problem, naming the
    file, the line and the column."""
    frame = _read_csv(path, TABLE_COLUMNS)
    found = []
    rows = []
    for index, row in frame.iterrows():
        where = _line(index)
        record: dict[str, Any] = {}
        table = _number(row["table"], 1, max(PAPER_TABLES))
        if table is None or table not in PAPER_TABLES:
            found.append(f"{where}: table {row['table']!r} is not one of {list(PAPER_TABLES)}")
        record["table"] = int(table or 0)
        for column in ("family", "model_label", "slug"):
            if not row[column]:
                found.append(f"{where}: column {column!r} is blank")
            record[column] = row[column]
        if any(char.isspace() for char in row["slug"]):
            found.append(f"{where}: slug {row['slug']!r} holds whitespace")
        for subset in SUBSET_ORDER:
            value = _number(row[subset], 0.0, 100.0)
            if value is None:
                found.append(f"{where}: column {subset!r}: {row[subset]!r} is not a % in [0, 100]")
            record[subset] = value
        rows.append(record)
    parsed = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    twice = parsed.duplicated(["table", "slug"], keep="first")
    for index in parsed.index[twice]:
        found.append(
            f"{_line(index)}: model {parsed.at[index, 'slug']!r} is already in table "
            f"{parsed.at[index, 'table']}"
        )
    _problems(path, found)
    return parsed


def read_paper_verdicts(path: str | os.PathLike) -> pd.DataFrame:
    """The verdicts the paper states, checked: one line per problem, naming the file, the line
    and the column."""
    frame = _read_csv(path, VERDICT_COLUMNS)
    found = []
    rows = []
    for index, row in frame.iterrows():
        where = _line(index)
        figure = _number(row["figure"], 1, math.inf)
        if figure is None or figure != int(figure):
            found.append(f"{where}: figure {row['figure']!r} is not a figure number")
        for column in ("a", "b"):
            if not row[column]:
                found.append(f"{where}: column {column!r} is blank")
        if row["a"] and row["a"] == row["b"]:
            found.append(f"{where}: a and b are the same model {row['a']!r}")
        if row["subset"] not in SUBSET_ORDER:
            found.append(f"{where}: subset {row['subset']!r} is not one of {list(SUBSET_ORDER)}")
        credible = {"true": True, "false": False}.get(row["paper_credible"].lower())
        direction = row["paper_direction"]
        if credible is None:
            found.append(f"{where}: paper_credible {row['paper_credible']!r} is not true or false")
        elif credible and direction not in DIRECTIONS:
            found.append(
                f"{where}: a credible verdict needs paper_direction, one of {list(DIRECTIONS)}; "
                f"found {direction!r}"
            )
        elif not credible and direction:
            found.append(f"{where}: a verdict that is not credible has no direction: {direction!r}")
        rows.append(
            {
                "figure": int(figure or 0),
                "a": row["a"],
                "b": row["b"],
                "subset": row["subset"],
                "paper_credible": bool(credible),
                "paper_direction": direction,
                "source_sentence": row["source_sentence"],
            }
        )
    parsed = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    twice = parsed.duplicated(["figure", "a", "b", "subset"], keep="first")
    for index in parsed.index[twice]:
        found.append(f"{_line(index)}: the same verdict (figure, a, b, subset) twice")
    _problems(path, found)
    return parsed


# --- which of our models and pairs ---------------------------------------------------------------


def arms(slug: str) -> list[tuple[str, str]]:
    """(arm, our model) for a paper slug: a Dolly model is our retraining and the authors'
    published model; any other model is ours of that slug ('' : no arm)."""
    if slug.endswith(DOLLY_SUFFIX):
        return [(RETRAINED, slug), (PUBLISHED, slug + PUBLISHED_SUFFIX)]
    return [("", slug)]


def matched_models(paper: pd.DataFrame, models: Iterable[str]) -> list[str]:
    """Our models (of `models`, the study's raw-prompt ones) that a paper table row names."""
    have = set(models)
    found = [model for slug in paper["slug"] for _, model in arms(slug) if model in have]
    return list(dict.fromkeys(found))


def matched_pairs(verdicts: pd.DataFrame, pairs: Iterable[str]) -> list[str]:
    """Our pairs (of `pairs`, the study's raw-prompt ones) that a paper verdict names."""
    have = set(pairs)
    found = [
        pair_name(a, b)
        for a, slug in zip(verdicts["a"], verdicts["b"], strict=True)
        for _, b in arms(slug)
        if pair_name(a, b) in have
    ]
    return list(dict.fromkeys(found))


def _listed(names: Iterable[str]) -> str:
    return ", ".join(names)


# --- the tables --------------------------------------------------------------------------------


def reproduction_table(
    paper: pd.DataFrame,
    percents: Mapping[str, pd.DataFrame],
    hdi_prob: float,
    subsets: Sequence[str] = SUBSETS,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per paper table row, arm and subset (Total first) that the study ran (`percents`:
    our model -> its counts and percents, finetox.results.counts), and the notes on what was
    left out."""
    rows = []
    not_run: list[str] = []
    no_subset: dict[str, list[str]] = {}
    for row in paper.itertuples(index=False):
        ran = [(arm, model) for arm, model in arms(row.slug) if model in percents]
        if not ran and row.slug not in not_run:
            not_run.append(row.slug)
        for arm, model in ran:
            counts = percents[model]
            for subset in SUBSET_ORDER:
                if subset not in counts.index:
                    if subset in subsets:  # the run has it, this model's file does not
                        no_subset.setdefault(model, [])
                        if subset not in no_subset[model]:
                            no_subset[model].append(subset)
                    continue
                toxic, total = int(counts.at[subset, "toxic"]), int(counts.at[subset, "n"])
                low, high = (100 * end for end in rate_hdi(toxic, total, hdi_prob))
                paper_pct, ours = float(getattr(row, subset)), float(counts.at[subset, "pct"])
                rows.append(
                    {
                        "table": row.table, "family": row.family, "model_paper": row.model_label,
                        "slug": row.slug, "arm": arm, "model": model, "subset": subset,
                        "paper_pct": paper_pct, "ours_pct": ours,
                        "diff_pp": round(ours - paper_pct, 1), "toxic": toxic, "n": total,
                        "hdi_low_pct": low, "hdi_high_pct": high, "hdi_prob": hdi_prob,
                        "paper_in_hdi": bool(low <= paper_pct <= high),
                    }
                )  # fmt: skip
    frame = pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)
    frame = frame.astype({"table": "Int64", "toxic": "Int64", "n": "Int64"})
    models = paper["slug"].nunique()
    notes = []
    if frame.empty:
        notes.append(
            f"No model of the paper was run: none of the {models} models of its Tables 1-3 is a "
            f"model of this study with raw prompts (the paper's rows name them by the slugs of "
            f"config/config.yaml)."
        )
    elif not_run:
        notes.append(
            f"Left out, not run with raw prompts in this study ({len(not_run)} of the paper's "
            f"{models} models): {_listed(not_run)}."
        )
    lacking = [subset for subset in SUBSETS if subset not in subsets]
    if lacking and not frame.empty:
        notes.append(
            f"Left out, subsets this run lacks: {_listed(subset_label(s) for s in lacking)}; our "
            f"Total is over the subsets it has, the paper's over all six."
        )
    for model, missing in no_subset.items():
        notes.append(
            f"Left out, subsets missing from the score file of {model}: "
            f"{_listed(subset_label(s) for s in missing)}."
        )
    return frame, notes


def _direction(low: float, high: float) -> str:
    """The paper's rule on an HDI of the change B - A: which way it is credible, or ''."""
    if low > 0:
        return "b more toxic"
    if high < 0:
        return "b less toxic"
    return ""


def _view(row: pd.Series, view: str, paper_credible: bool, paper_direction: str) -> dict:
    change, low, high, credible_column, verdict_column = VIEW_SOURCES[view]
    values = [float(row[column]) for column in (change, low, high)]
    fitted = all(math.isfinite(v) for v in values)
    verdict = str(row[verdict_column])
    credible = bool(row[credible_column]) if fitted else None
    direction = _direction(values[1], values[2]) if fitted else None
    if fitted:
        agrees = credible == paper_credible and (not credible or direction == paper_direction)
        wanted = (DIRECTIONS[paper_direction],) if paper_credible else NOT_CREDIBLE_VERDICTS
        rope_agrees = verdict in wanted
    else:
        agrees = rope_agrees = None
    return {
        f"{view}_change": values[0],
        f"{view}_hdi_low": values[1],
        f"{view}_hdi_high": values[2],
        f"{view}_credible": credible,
        f"{view}_direction": direction,
        f"{view}_agrees": agrees,
        f"{view}_verdict": verdict,
        f"{view}_rope_agrees": rope_agrees,
    }


def reproduction_verdicts(
    paper: pd.DataFrame,
    comparisons: Mapping[str, ComparisonFile],
    labels: Mapping[str, str],
) -> tuple[pd.DataFrame, list[str]]:
    """One row per paper verdict and arm whose pair the study compared (`comparisons`: pair name
    -> its comparison file; `labels`: model -> display name), and the notes on what was left
    out."""
    rows = []
    not_compared: list[str] = []
    no_subset: list[str] = []
    for row in paper.itertuples(index=False):
        ran = [(arm, b, pair_name(row.a, b)) for arm, b in arms(row.b)]
        ran = [(arm, b, pair) for arm, b, pair in ran if pair in comparisons]
        if not ran:
            not_compared.append(f"{pair_name(row.a, row.b)} ({subset_label(row.subset)})")
        for arm, b, pair in ran:
            file = comparisons[pair]
            if row.subset not in file.frame.index:
                no_subset.append(f"{pair} ({subset_label(row.subset)})")
                continue
            found = file.frame.loc[row.subset]
            record = {
                "figure": row.figure, "a": row.a, "b": row.b, "arm": arm, "pair": pair,
                "model_a": labels.get(row.a, row.a), "model_b": labels.get(b, b),
                "subset": row.subset, "paper_credible": row.paper_credible,
                "paper_direction": row.paper_direction, "best_fitted": bool(found["best_fitted"]),
                "hdi_prob": file.hdi_prob, "rope_pp": file.rope_pp, "rope_best": file.rope_best,
                "source_sentence": row.source_sentence,
            }  # fmt: skip
            for view in VIEW_SOURCES:
                record |= _view(found, view, row.paper_credible, row.paper_direction)
            rows.append(record)
    frame = pd.DataFrame(rows, columns=VERDICTS_COLUMNS)
    frame = frame.astype(
        {"figure": "Int64", **{f"{v}_{f}": "boolean" for v in VIEW_SOURCES
                               for f in ("credible", "agrees", "rope_agrees")}}
    )  # fmt: skip
    notes = []
    if frame.empty:
        notes.append(
            f"No pair of the paper was compared: none of the pairs of its {len(paper)} verdicts "
            f"is a comparison of this study with raw prompts (the paper's verdicts name them by "
            f"the slugs of config/config.yaml)."
        )
    elif not_compared:
        notes.append(
            f"Left out, pairs this study did not compare with raw prompts: {_listed(not_compared)}."
        )
    if no_subset:
        notes.append(f"Left out, subsets missing from the comparison file: {_listed(no_subset)}.")
    return frame, notes


# --- display -----------------------------------------------------------------------------------

PAPER_WORDS = {"b more toxic": "credible: B more toxic", "b less toxic": "credible: B less toxic"}


def _paper_words(credible: Any, direction: Any) -> str | None:
    if credible is None or credible is pd.NA:
        return None
    return PAPER_WORDS[direction] if credible else "not credible"


def _yes_no(value: Any) -> str | None:
    return None if value is None or value is pd.NA else ("yes" if value else "no")


def _interval(change: float, low: float, high: float, digits: int) -> str:
    if not all(math.isfinite(v) for v in (change, low, high)):
        return NOT_FITTED
    return f"{change:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def reproduction_display(frame: pd.DataFrame, hdi_prob: float) -> pd.DataFrame:
    rows = [
        [
            str(row.table), row.family, row.model_paper, row.arm or None, subset_label(row.subset),
            fmt_pct(row.paper_pct), fmt_pct(row.ours_pct), f"{row.diff_pp:+.1f}",
            f"[{row.hdi_low_pct:.1f}, {row.hdi_high_pct:.1f}]", _yes_no(row.paper_in_hdi),
        ]
        for row in frame.itertuples(index=False)
    ]  # fmt: skip
    columns = [
        "Paper's table", "Family", "Model (paper)", "Arm", "Subset", "Paper %", "Ours %",
        "Difference, pp", f"Ours, {hdi_prob:.0%} HDI, %", "Paper inside our HDI",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def verdicts_display(frame: pd.DataFrame, hdi_prob: float) -> pd.DataFrame:
    hdi = f"{hdi_prob:.0%} HDI"
    rows = []
    for row in frame.itertuples(index=False):
        best_rope = in_words(row.best_verdict, row.rope_best, "")
        paired_rope = in_words(row.paired_verdict, row.rope_pp, " pp")
        rows.append(
            [
                f"Figure {row.figure}", row.model_a, row.model_b, row.arm or None,
                subset_label(row.subset), _paper_words(row.paper_credible, row.paper_direction),
                _interval(row.best_change, row.best_hdi_low, row.best_hdi_high, 3),
                _paper_words(row.best_credible, row.best_direction) or NOT_FITTED,
                _yes_no(row.best_agrees), best_rope, _yes_no(row.best_rope_agrees),
                _interval(row.paired_change, row.paired_hdi_low, row.paired_hdi_high, 1),
                _paper_words(row.paired_credible, row.paired_direction) or NOT_FITTED,
                paired_rope,
            ]
        )  # fmt: skip
    columns = [
        "Paper's figure", "Original (A)", "Tuned (B)", "Arm", "Subset", "Paper",
        f"BEST change B − A [{hdi}]", "Ours, paper's rule (BEST)", "Agrees",
        "Ours, ROPE rule (BEST)", "Agrees (ROPE)", f"Paired change B − A, pp [{hdi}]",
        "Paired, paper's rule", "Paired, ROPE rule",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


# --- writing -----------------------------------------------------------------------------------


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
    files = {p: read_comparison(by_pair[p]) for p in spec["pairs"] if p in by_pair}
    missing = [pair for pair in matched_pairs(verdicts, spec["pairs"]) if pair not in files]
    if missing:
        raise InputError(f"no comparison file for pair(s) {missing}")
    settings = _settings(files, spec["hdi_prob"])
    hdi_prob = settings["hdi_prob"]

    table, table_notes = reproduction_table(paper, percents, hdi_prob, layout["subsets"])
    labels = {name: model["label"] for name, model in layout["models"].items()}
    compared, verdict_notes = reproduction_verdicts(verdicts, files, labels)
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
    inside = int(table["paper_in_hdi"].sum()) if not table.empty else 0
    agree = int(verdicts["best_agrees"].fillna(False).sum()) if not verdicts.empty else 0
    log.info(
        "reproduction: %d of the paper's %d models run; the paper's value inside our HDI in %d "
        "of %d rows; %d verdict rows, %d agreeing with the paper under its rule",
        table["slug"].nunique(), paper["slug"].nunique(), inside, len(table), len(verdicts), agree,
    )  # fmt: skip


__all__ = [
    "read_paper_tables",
    "read_paper_verdicts",
    "reproduction_table",
    "reproduction_verdicts",
    "write_reproduction",
]
