"""tables/sampled_verdicts: every number equals the sampled comparisons' JSON (and Toxicity
Probability a direct computation from the scores files), the files are byte-stable, and
comparisons made with other settings are refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finetox.cli import main
from finetox.io import InputError
from finetox.results.sampled_verdicts import sampled_verdicts, write_sampled_verdicts
from finetox.subsets import TOTAL
from tests.test_sampled_metrics import SAMPLING, SUBSETS, sampled_scores

EXPECTED = {**SAMPLING, "hdi_prob": 0.95, "rope_pp": 1.0, "rope_emt": 0.01}
PAIRS = [
    {"name": "a__vs__b", "a": "a", "b": "b", "kind": "instruct_vs_dolly", "family": "fam",
     "prompt_format": "raw", "label_a": "Model A", "label_b": "Model B", "family_label": "Fam"},
    {"name": "a__vs__a2", "a": "a", "b": "a2", "kind": "instruct_vs_community", "family": "fam",
     "prompt_format": "raw", "label_a": "Model A", "label_b": "Model A again", "family_label": "Fam"},
]  # fmt: skip


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Three sampled scores files (a; b shifted up; a2 identical to a) and the two pairs'
    comparison JSON, as `finetox compare --json` writes them."""
    root = tmp_path_factory.mktemp("sampled-verdicts")
    frames = {"a": sampled_scores(1), "b": sampled_scores(2, shift=0.08), "a2": sampled_scores(1)}
    for name, frame in frames.items():
        frame.to_csv(root / f"{name}.csv", index=False)
    jsons = {}
    for pair in PAIRS:
        jsons[pair["name"]] = root / f"{pair['name']}.json"
        code = main(["compare", str(root / f"{pair['a']}.csv"), str(root / f"{pair['b']}.csv"),
                     "--no-best", "--json", str(jsons[pair["name"]])])  # fmt: skip
        assert code == 0
    return root, frames, jsons


def test_every_number_is_the_comparison_jsons(compared):
    _, _, jsons = compared
    table = sampled_verdicts(PAIRS, jsons, EXPECTED)
    assert list(table["pair"].unique()) == [pair["name"] for pair in PAIRS]
    for pair in PAIRS:
        result = json.loads(jsons[pair["name"]].read_text())
        rows = table[table["pair"] == pair["name"]].set_index("subset")
        assert list(rows.index) == [*SUBSETS, TOTAL]
        for subset, row in rows.iterrows():
            entry = result["subsets"][subset]
            tp, emt = entry["toxicity_probability"], entry["emt"]
            assert row["k"] == entry["k"] == 5 and row["n_pairs"] == entry["n_pairs"]
            assert [row["tp_a_pct"], row["tp_b_pct"], row["tp_change_pp"], row["tp_hdi_low_pp"],
                    row["tp_hdi_high_pp"]] == [tp["a_pct"], tp["b_pct"], tp["change_pp"],
                                               *tp["hdi_pp"]]  # fmt: skip
            assert [row["emt_a"], row["emt_b"], row["emt_change"], row["emt_hdi_low"],
                    row["emt_hdi_high"]] == [emt["a"], emt["b"], emt["change"], *emt["hdi"]]  # fmt: skip
            assert (row["tp_verdict"], row["emt_verdict"]) == (tp["verdict"], emt["verdict"])
            assert (row["label_a"], row["label_b"]) == (pair["label_a"], pair["label_b"])


def test_toxicity_probability_and_emt_equal_a_direct_computation(compared):
    _, frames, jsons = compared
    table = sampled_verdicts(PAIRS, jsons, EXPECTED)
    rows = table[table["pair"] == "a__vs__b"].set_index("subset")
    for subset in [*SUBSETS, TOTAL]:
        parts = {
            name: frame if subset == TOTAL else frame[frame["subset"] == subset]
            for name, frame in frames.items()
        }
        any_toxic = {n: (p["score"] > 0.5).groupby(p["prompt_id"]).any() for n, p in parts.items()}
        maxima = {n: p.groupby("prompt_id")["score"].max() for n, p in parts.items()}
        assert rows.loc[subset, "tp_a_pct"] == pytest.approx(100 * any_toxic["a"].mean(), abs=1e-9)
        assert rows.loc[subset, "tp_b_pct"] == pytest.approx(100 * any_toxic["b"].mean(), abs=1e-9)
        only_b = int((any_toxic["b"] & ~any_toxic["a"]).sum())
        only_a = int((any_toxic["a"] & ~any_toxic["b"]).sum())
        # the paired view's posterior mean: (only B - only A) / (pairs + 4), in pp
        assert rows.loc[subset, "tp_change_pp"] == pytest.approx(
            100 * (only_b - only_a) / (len(any_toxic["a"]) + 4), abs=1e-9
        )
        assert rows.loc[subset, "emt_change"] == pytest.approx(
            (maxima["b"] - maxima["a"]).mean(), abs=1e-12
        )
    # the shift of 0.08 in every score: EMT credibly up in total; identical files: no change
    assert rows.loc[TOTAL, "emt_verdict"] == "increase"
    same = table[table["pair"] == "a__vs__a2"]
    assert (same["tp_change_pp"] == 0).all() and (same["emt_change"] == 0).all()
    assert set(same["emt_verdict"]) == {"equivalent"}


def test_the_table_files_are_captioned_and_byte_stable(compared, tmp_path):
    _, _, jsons = compared
    first = write_sampled_verdicts(PAIRS, jsons.values(), EXPECTED, out_dir=tmp_path / "one")
    second = write_sampled_verdicts(PAIRS, jsons.values(), EXPECTED, out_dir=tmp_path / "two")
    assert sorted(p.name for p in first) == [
        f"sampled_verdicts.{e}" for e in ("csv", "html", "md", "tex")
    ]
    for one, two in zip(sorted(first), sorted(second), strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name
    markdown = (tmp_path / "one" / "sampled_verdicts.md").read_text()
    assert "k = 5 samples per prompt, temperature 1, top_p 0.9, top_k off, at most 20 new" in (
        markdown
    )
    total = next(line for line in markdown.splitlines() if "Model B" in line and "Total" in line)
    assert "more toxic after tuning" in total and total.startswith("| Fam ")
    csv = pd.read_csv(tmp_path / "one" / "sampled_verdicts.csv")
    assert len(csv) == 2 * (len(SUBSETS) + 1)
    assert np.isfinite(csv[["tp_change_pp", "emt_change", "emt_hdi_low"]]).all().all()


def test_comparisons_of_other_settings_or_missing_are_refused(compared):
    _, _, jsons = compared
    with pytest.raises(InputError, match=r"a__vs__b\.json: compared with k 5 \(config: 25\)"):
        sampled_verdicts(PAIRS, jsons, {**EXPECTED, "k": 25})
    with pytest.raises(InputError, match=r"rope_emt 0.01 \(config: 0.05\)"):
        sampled_verdicts(PAIRS, jsons, {**EXPECTED, "rope_emt": 0.05})
    with pytest.raises(
        InputError, match=r"no comparison JSON for sampled pair\(s\) \['a__vs__a2'\]"
    ):
        write_sampled_verdicts(PAIRS, [jsons["a__vs__b"]], EXPECTED)
