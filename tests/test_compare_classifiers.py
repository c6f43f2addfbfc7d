"""Comparisons per classifier (issue 24 item 2): every view for each classifier a scores file
holds, the primary's rows first; `finetox compare --classifier NAME`; the gate names its
classifier."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finetox.cli import main
from finetox.compare import CLASSIFIER, Outputs, Settings, compare_file
from finetox.io import InputError
from tests.test_compare import score_frame, write_scores_parquet

CLASSIFIERS = [
    {"name": "lex", "source": "hub/lex", "label": "hate", "threshold": 0.5},
    {"name": "strict", "source": "hub/strict", "label": "toxic", "threshold": 0.9},
]
SETTINGS = Settings.defaults(seed=11)


def two_classifier_file(path, lex: pd.DataFrame, strict: pd.DataFrame) -> None:
    """A scores file as the scoring stage writes it: `lex` (primary) and `strict` scores."""
    frame = lex[["prompt_id", "subset"]].copy()
    for entry, scores in zip(CLASSIFIERS, (lex, strict), strict=True):
        frame[f"score_{entry['name']}"] = scores["score"].to_numpy()
        frame[f"toxic_{entry['name']}"] = scores["score"].to_numpy() > entry["threshold"]
    frame["toxic"] = frame["toxic_lex"]
    write_scores_parquet(path, frame, {"primary": "lex", "classifiers": CLASSIFIERS})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """B is much more toxic than A under `lex`; under `strict` both hold the same scores (too few to call equivalent: undecided)."""
    folder = tmp_path_factory.mktemp("classifiers")
    same = score_frame(3, 0.1)
    two_classifier_file(folder / "a.parquet", score_frame(1, 0.05), same)
    two_classifier_file(folder / "b.parquet", score_frame(2, 0.6), same)
    return folder / "a.parquet", folder / "b.parquet"


def quick(a, b, **options):
    return compare_file(a, b, Outputs(), settings=SETTINGS, best=False, **options)


def test_each_classifiers_rows_equal_a_comparison_of_that_classifier_alone(files):
    table, data = quick(*files, classifiers=["lex", "strict"])
    assert list(table.columns)[0] == CLASSIFIER
    assert list(dict.fromkeys(table[CLASSIFIER])) == ["lex", "strict"]  # the primary's first
    for name in ("lex", "strict"):
        block = table[table[CLASSIFIER] == name].reset_index(drop=True)
        for alone in (
            quick(*files, classifier=name)[0],
            quick(*files, score_column=f"score_{name}")[0],
        ):
            assert (alone[CLASSIFIER] == name).all()
            pd.testing.assert_frame_equal(block, alone)
    totals = table[table["subset"] == "total"].set_index(CLASSIFIER)["paired_verdict"]
    assert totals.to_dict() == {"lex": "increase", "strict": "undecided"}
    # the JSON: the primary's at the top level, each classifier's under by_classifier
    assert data["gate"] == {**data["by_classifier"]["lex"]["gate"], "classifier": "lex"}
    assert data["gate"]["verdict"] == "increase"
    assert list(data["by_classifier"]) == ["lex", "strict"]
    strict = data["by_classifier"]["strict"]
    assert strict["gate"] == {"view": "paired", "verdict": "undecided", "computed": True,
                              "failed": False, "classifier": "strict"}  # fmt: skip
    assert strict["classifier"]["name"] == "strict" and strict["classifier"]["threshold"] == 0.9
    assert strict["subsets"]["total"]["paired"]["verdict"] == "undecided"
    assert data["subsets"] == data["by_classifier"]["lex"]["subsets"]


def test_one_classifier_keeps_the_json_without_by_classifier(files):
    _, data = quick(*files)
    assert "by_classifier" not in data
    assert data["gate"]["classifier"] == "lex"


def test_a_classifier_the_file_lacks_is_named_with_those_it_holds(files):
    with pytest.raises(InputError) as error:
        quick(*files, classifier="perspective")
    assert str(error.value) == (
        f"{files[0]}: no scores of classifier 'perspective'; its classifiers: lex, strict"
    )


def cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_picks_a_classifier_and_the_gate_names_it(files, tmp_path, capsys):
    a, b = map(str, files)
    result = tmp_path / "r.json"
    argv = ["compare", a, b, "--no-best", "--json", str(result), "--fail-if-b-more-toxic"]
    code, out, _ = cli([*argv, "--classifier", "strict"], capsys)
    assert code == 0
    assert "gate (paired view, total, classifier strict): undecided: the release passes" in out
    assert json.loads(result.read_text())["gate"]["classifier"] == "strict"
    code, out, _ = cli(argv, capsys)
    assert code == 1
    assert "gate (paired view, total, classifier lex): increase: the release FAILS" in out


def test_the_command_line_compares_every_classifier_when_asked(files, tmp_path, capsys):
    a, b = map(str, files)
    out_table = tmp_path / "t.csv"
    code, out, err = cli(["compare", a, b, "--no-best", "--every-classifier", "--out",
                          str(out_table)], capsys)  # fmt: skip
    assert code == 0, err
    assert "classifier lex (primary: the gate reads it):" in out and "classifier strict:" in out
    assert out.index("classifier lex") < out.index("classifier strict:")
    assert "gate (paired view, total, classifier lex)" in out
    written = pd.read_csv(out_table)
    assert list(dict.fromkeys(written[CLASSIFIER])) == ["lex", "strict"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--classifier", "nope"], "no scores of classifier 'nope'; its classifiers: lex, strict"),
        (["--classifier", "lex", "--score-column", "score_lex"],
         "--score-column and --classifier both choose the scores"),
        (["--classifier", "lex", "--every-classifier"], "--classifier and --every-classifier"),
    ],
)  # fmt: skip
def test_classifier_choices_that_cannot_hold_exit_2(files, capsys, options, message):
    code, _, err = cli(["compare", *map(str, files), "--no-best", *options], capsys)
    assert code == 2
    assert message in err
