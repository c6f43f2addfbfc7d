"""Comparing two models' scores, the release gate, and a model-card section from the result."""

from __future__ import annotations

import argparse
import sys

from finetox.cli.registry import Renamed, command, number_in, whole_number
from finetox.io import UserError

EXIT_CODES = (
    "exit status: 0 the release passes, or no gate was asked for (the table is the answer, also "
    "when the gate's view could not be computed); 1 B is credibly more toxic than A in total "
    "(--fail-if-b-more-toxic); 2 bad input, A and B not scored alike, or, with "
    "--fail-if-b-more-toxic, the gate's view could not be computed (BEST skipped or improper, "
    "no paired prompts); 3 internal error (one line here, the traceback in a log file it names)"
)
NOT_COMPUTED = "the gate's view could not be computed"


@command("compare", "how B (the tuned model) differs from A (the original) in toxicity")
def _compare(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXIT_CODES
    parser.add_argument(
        "a",
        help="scores of A, the original model (Parquet, CSV or JSONL: prompt_id, subset, a score column)",
    )
    parser.add_argument("b", help="scores of B, the tuned model; every change is B - A")
    parser.add_argument(
        "--out",
        help="also write the comparison table: .csv, .parquet, .jsonl or .json by suffix "
        "(default: none; the terminal table is the answer)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    parser.add_argument(
        "--flips", metavar="FILE", help="also write the prompts whose flag flipped (CSV)"
    )
    parser.add_argument("--posterior", metavar="FILE", help="also write the posterior (NetCDF)")
    parser.add_argument("--config", help="take the compare settings from this study config")
    parser.add_argument(
        "--hdi-prob",
        type=number_in(0, 1, open_low=True, open_high=True),
        help="HDI mass (default 0.95)",
    )
    parser.add_argument(
        "--rope-pp",
        type=number_in(0, 100),
        help="ROPE half-width of the rate views, pp (default 1)",
    )
    parser.add_argument(
        "--rope-best",
        type=number_in(0, 1),
        help="ROPE half-width of BEST, score units (default 0.01)",
    )
    parser.add_argument(
        "--rope-emt",
        type=number_in(0, 1),
        help="ROPE half-width of the change in Expected Maximum Toxicity (sampled runs; "
        "default 0.01)",
    )
    parser.add_argument(
        "--gate-view",
        choices=["paired", "rate", "best", "toxicity_probability", "emt"],
        default="paired",
        help="the view the gate reads (default paired); toxicity_probability and emt need "
        "sampled runs (docs/sampled.md)",
    )
    parser.add_argument(
        "--fail-if-b-more-toxic",
        action="store_true",
        help="exit 1 when the gate view's verdict for total is increase (B credibly more toxic "
        "beyond the ROPE), 2 when that view could not be computed",
    )
    parser.add_argument(
        "--fail-if-a-more-toxic",
        action=Renamed,
        replacement="--fail-if-b-more-toxic (B is the tuned model; it fails only on a credible increase beyond the ROPE)",
    )
    parser.add_argument("--no-best", action="store_true", help="skip the BEST fits (a quick gate)")
    parser.add_argument(
        "--score-column", metavar="NAME", help="default: score, else the primary classifier's"
    )
    parser.add_argument(
        "--classifier",
        metavar="NAME",
        help="compare classifier NAME's scores (its score_NAME column) when the files hold "
        "several (default: the primary's)",
    )
    parser.add_argument(
        "--every-classifier",
        action="store_true",
        help="compare each classifier the files hold, the primary first (the gate reads the "
        "primary's); the table gains one block of rows per classifier",
    )
    parser.add_argument(
        "--threshold",
        type=number_in(0, 1),
        help="toxic when score > T (default: stored flags, else 0.5)",
    )
    parser.add_argument(
        "--allow-unpaired", action="store_true", help="A and B may hold different prompts"
    )
    parser.add_argument("--draws", type=whole_number(100), help="posterior draws per chain")
    parser.add_argument("--seed", type=whole_number(0), help="random seed")
    parser.set_defaults(handler=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from finetox.compare import CLASSIFIER, Outputs, Settings, compare_file
    from finetox.compare.files import every_classifier
    from finetox.compare.terminal import print_table
    from finetox.config import load_study_file

    if args.fail_if_b_more_toxic and args.gate_view == "best" and args.no_best:
        raise UserError(
            f"{NOT_COMPUTED}: --gate-view best reads BEST, which --no-best skips; drop --no-best "
            "or gate on the paired or rate view"
        )

    overrides = {
        "hdi_prob": args.hdi_prob, "draws": args.draws, "seed": args.seed,
        "rope_pp": args.rope_pp, "rope_best": args.rope_best, "rope_emt": args.rope_emt,
    }  # fmt: skip
    if args.config:
        settings = Settings.from_section(
            load_study_file(args.config).config["compare"], **overrides
        )
    else:
        settings = Settings.defaults(**overrides)
    outputs = Outputs(table=args.out, posterior=args.posterior, flips=args.flips, json=args.json)
    table, result = compare_file(
        args.a, args.b, outputs, settings=settings, gate_view=args.gate_view,
        score_column=args.score_column, classifier=args.classifier,
        classifiers=every_classifier(args.a) if args.every_classifier else None,
        threshold=args.threshold,
        allow_unpaired=args.allow_unpaired, best=not args.no_best,
    )  # fmt: skip
    print(f"A (original) = {args.a}\nB (tuned)    = {args.b}")
    blocks = list(table.groupby(CLASSIFIER, sort=False))
    for index, (name, block) in enumerate(blocks):
        if len(blocks) > 1:
            print(f"\nclassifier {name}{' (primary: the gate reads it)' if index == 0 else ''}:")
        shown = block.drop(columns=CLASSIFIER).reset_index(drop=True)
        print_table(shown, result["gate"] if index == len(blocks) - 1 else None)
    written = [p for p in (args.out, args.json, args.flips, args.posterior) if p]
    if written:
        print(f"wrote {', '.join(map(str, written))}")
    if args.fail_if_b_more_toxic and not result["gate"]["computed"]:
        raise UserError(f"{NOT_COMPUTED}: {result['gate']['reason']}")
    if args.fail_if_b_more_toxic and result["gate"]["failed"]:
        print("B is credibly more toxic than A in total (beyond the ROPE)", file=sys.stderr)
        return 1
    return 0


@command("card", "a model-card section (Markdown) from a comparison's JSON")
def _card(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result", metavar="RESULT.json", help="written by finetox compare --json")
    parser.add_argument("--out", metavar="FILE", help="write it here (default: print it)")

    def run(args: argparse.Namespace) -> int:
        from finetox.card import model_card, read_result
        from finetox.io import write_text

        card = model_card(read_result(args.result))
        if args.out:
            write_text(card, args.out)
        else:
            print(card, end="")
        return 0

    parser.set_defaults(handler=run)
