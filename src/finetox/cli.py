"""The finetox command line: the same functions the workflow's rules call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from finetox import __version__, paths
from finetox.io import UserError
from finetox.logs import configure_console_logging

COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {}


def command(name: str, help: str):
    """Register `add_arguments(parser)`; the parser's `handler` default runs the command."""

    def register(add_arguments: Callable[[argparse.ArgumentParser], None]):
        COMMANDS[name] = (help, add_arguments)
        return add_arguments

    return register


def auto_or_count(value: str) -> int | str:
    """An argparse type: "auto" or a positive whole number."""
    if value == "auto" or (value.isdigit() and int(value) > 0):
        return value if value == "auto" else int(value)
    raise argparse.ArgumentTypeError(f"{value!r}: give a positive number or auto")


@command("check-config", "validate a study config and list its models and comparisons")
def _check_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default="config/config.yaml")
    parser.add_argument("--workdir", default=".", help="where relative paths in the config start")

    def run(args: argparse.Namespace) -> int:
        from finetox.config import load_study_file

        study = load_study_file(args.config, workdir=args.workdir)
        print(
            f"{args.config}: valid; {len(study.models)} models, {len(study.comparisons)} comparisons"
        )
        for spec in study.models.values():
            print(f"  model  {spec.name:40s} {spec.role:14s} {spec.source}")
        for comparison in study.comparisons:
            print(f"  pair   {comparison.name:60s} {comparison.kind}")
        return 0

    parser.set_defaults(handler=run)


@command("config-reference", "print every config key (type, default, meaning) as Markdown")
def _config_reference(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--update",
        metavar="FILE",
        help="rewrite the reference in this file (docs/configuration.md)",
    )

    def run(args: argparse.Namespace) -> int:
        from finetox.config import config_reference, update_reference

        if args.update:
            update_reference(args.update)
        else:
            print(config_reference(), end="")
        return 0

    parser.set_defaults(handler=run)


@command("build-prompts", "build the prompt set and its manifest from a study config")
def _build_prompts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--out", default=paths.prompt_set())
    parser.add_argument("--manifest", default=paths.prompt_manifest())

    def run(args: argparse.Namespace) -> int:
        from finetox.config import load_study_file
        from finetox.prompts import build_prompt_set

        study = load_study_file(args.config)
        build_prompt_set(study.config["prompts"], out=args.out, manifest=args.manifest)
        return 0

    parser.set_defaults(handler=run)


@command("demo-data", "write the synthetic demo sources (RTP, CEB, Dolly schemas) to a folder")
def _demo_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", default="resources/demo")

    def run(args: argparse.Namespace) -> int:
        from finetox.demo.synthetic import write_demo_sources

        for path in write_demo_sources(args.folder):
            print(path)
        return 0

    parser.set_defaults(handler=run)


@command("tune", "tune a model with LoRA on Dolly (the authors' recipe) and save the adapter")
def _tune(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="hub id or local folder of the model")
    parser.add_argument("--revision", default=None, help="branch, tag or commit of a hub model")
    parser.add_argument(
        "--data", default=None, help="Dolly JSONL file or hub dataset id (default: tune.data)"
    )
    parser.add_argument("--out", required=True, help="adapter folder to create")
    parser.add_argument("--config", default=None, help="study config to take the tune section of")
    parser.add_argument("--checkpoints", default=None, help="default: OUT/../.checkpoints/NAME")
    parser.add_argument("--max-records", type=int, default=None, help="use the first N records")
    parser.add_argument("--trust-remote-code", action="store_true")

    def run(args: argparse.Namespace) -> int:
        from finetox.tune import tune_file, tune_settings

        settings = tune_settings(args.config, data=args.data, max_records=args.max_records)
        model = {
            "source": args.model,
            "revision": args.revision,
            "trust_remote_code": args.trust_remote_code,
        }
        record = tune_file(
            model=model, settings=settings, out=args.out, checkpoints=args.checkpoints
        )
        print(
            f"{args.out}: {record['global_step']} steps, final loss {record['final_loss']:.4f}, "
            f"{'4-bit' if record['load_in_4bit'] else 'full-precision'} base"
        )
        return 0

    parser.set_defaults(handler=run)


@command("results", "write the tables and figures from finished score and comparison files")
def _results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml", help="the study config")
    parser.add_argument("--scores", default=paths.scores_dir(), help="folder of {model}.parquet")
    parser.add_argument(
        "--comparisons", default=paths.comparisons_dir(), help="folder of {a}__vs__{b}.csv"
    )
    parser.add_argument("--tables", default=paths.tables_dir(), help="folder for the tables")
    parser.add_argument("--figures", default=paths.figures_dir(), help="folder for the figures")
    parser.add_argument("--no-figures", action="store_true", help="write the tables only")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from finetox.config import load_study_file
        from finetox.results import results_layout
        from finetox.results.write import write_tables

        layout = results_layout(load_study_file(args.config))
        scores = [Path(args.scores) / f"{model}.parquet" for model in layout["models"]]
        comparisons = [Path(args.comparisons) / f"{p['name']}.csv" for p in layout["pairs"]]
        written = write_tables(layout, scores, comparisons, args.tables)
        if not args.no_figures:
            from finetox.results.figures import plot_figures

            written += plot_figures(layout, scores, comparisons, args.figures)
        for path in written:
            print(path)
        return 0

    parser.set_defaults(handler=run)


@command("score", "score generations with a toxicity classifier, as evaluate's toxicity does")
def _score(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classifier", required=True, metavar="ID_OR_PATH", help="hub id/folder")
    parser.add_argument("--label", default="hate", help="the toxic label's name in id2label")
    parser.add_argument("--threshold", type=float, help="toxic when score > this (default 0.5)")
    parser.add_argument("--name", help="column suffix (default: from the classifier's name)")
    parser.add_argument("--revision", help="branch, tag or commit of a hub classifier")
    parser.add_argument(
        "--in",
        dest="generations",
        required=True,
        metavar="GENERATIONS",
        help="Parquet, JSONL or CSV with prompt_id and generation columns",
    )
    parser.add_argument("--out", required=True, metavar="SCORES", help="a .parquet file")
    parser.add_argument("--batch-size", type=auto_or_count, default="auto", help="N or auto")
    parser.add_argument(
        "--max-batch-tokens",
        type=auto_or_count,
        default="auto",
        help="tokens per batch; auto: 16384 on GPU, 4096 on CPU",
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "float16", "bfloat16"],
        help="auto: float16 on GPU, float32 on CPU",
    )
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")

    def run(args: argparse.Namespace) -> int:
        from finetox.scoring import ClassifierSpec, default_name, score_file

        threshold = {} if args.threshold is None else {"threshold": args.threshold}
        spec = ClassifierSpec(
            name=args.name or default_name(args.classifier),
            source=args.classifier,
            label=args.label,
            revision=args.revision,
            **threshold,
        )
        score_file(
            args.generations,
            args.out,
            [spec],
            batch_size=args.batch_size,
            max_batch_tokens=args.max_batch_tokens,
            dtype=args.dtype,
            threads=args.threads,
        )
        return 0

    parser.set_defaults(handler=run)


@command("generate", "greedy continuations of a prompt table with one model (resumable)")
def _generate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="ID_OR_PATH", help="hub id or folder")
    parser.add_argument("--adapter", metavar="DIR", help="a LoRA adapter folder to apply")
    parser.add_argument("--revision", help="branch, tag or commit of a hub model")
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
        help="auto: bfloat16 (or float16) on GPU, float32 on CPU",
    )  # fmt: skip
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument(
        "--load-in-4bit", default="as_trained", choices=["as_trained", "yes", "no"],
        help="4-bit base model; as_trained: as the adapter's training record says (default)",
    )  # fmt: skip
    parser.add_argument(
        "--prompts", required=True, help="Parquet, JSONL or CSV with prompt_id, subset, text"
    )
    parser.add_argument("--out", required=True, help="Parquet, JSONL or CSV to write")
    parser.add_argument("--max-new-tokens", type=int, default=50)
    parser.add_argument("--batch-size", type=auto_or_count, default="auto", help="N or auto")
    parser.add_argument("--max-batch-size", type=int, default=128, help="where auto starts")
    parser.add_argument("--prompt-format", default="raw", choices=["raw", "chat_template"])
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")

    def run(args: argparse.Namespace) -> int:
        from finetox.generation import generate_file

        frame = generate_file(
            args.model,
            args.prompts,
            args.out,
            adapter=args.adapter,
            revision=args.revision,
            dtype=args.dtype,
            trust_remote_code=args.trust_remote_code,
            load_in_4bit={"yes": True, "no": False}.get(args.load_in_4bit, "as_trained"),
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            max_batch_size=args.max_batch_size,
            prompt_format=args.prompt_format,
            threads=args.threads,
        )
        stopped = int((frame["stop_reason"] == "eos").sum())
        print(f"{args.out}: {len(frame)} generations ({stopped} stopped at eos)")
        return 0

    parser.set_defaults(handler=run)


@command("compare", "compare two models' toxicity scores per subset: BEST and toxic rates")
def _compare(parser: argparse.ArgumentParser) -> None:
    def probability(value: str) -> float:
        number = float(value)
        if not 0 < number < 1:
            raise argparse.ArgumentTypeError(f"{value!r}: give a number between 0 and 1")
        return number

    def positive(value: str) -> int:
        if not value.isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"{value!r}: give a positive whole number")
        return int(value)

    parser.add_argument(
        "a", help="scores of model A (Parquet, CSV or JSONL: prompt_id, subset, a score column)"
    )
    parser.add_argument("b", help="scores of model B; differences are A - B")
    parser.add_argument("--out", help="the comparison CSV (default: A__vs__B.csv)")
    parser.add_argument("--posterior", metavar="FILE", help="also write the draws (NetCDF)")
    parser.add_argument("--config", help="take the compare settings from this study config")
    parser.add_argument("--hdi-prob", type=probability, help="HDI mass (default 0.95)")
    parser.add_argument(
        "--score-column", metavar="NAME", help="default: score, else the primary classifier's"
    )
    parser.add_argument(
        "--threshold", type=float, help="toxic when score > T (default: stored flags, else 0.5)"
    )
    parser.add_argument(
        "--allow-unpaired", action="store_true", help="A and B may hold different prompts"
    )
    parser.add_argument(
        "--fail-if-a-more-toxic", action="store_true",
        help="exit 1 when, in total, the HDI of the BEST or the rate difference lies above 0",
    )  # fmt: skip
    parser.add_argument("--draws", type=positive, help="posterior draws per chain")
    parser.add_argument("--seed", type=int, help="random seed")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from finetox.compare import Settings, compare_file
        from finetox.compare.terminal import a_more_toxic, print_table
        from finetox.config import load_study_file
        from finetox.pairs import pair_name

        overrides = {"hdi_prob": args.hdi_prob, "draws": args.draws, "seed": args.seed}
        if args.config:
            section = load_study_file(args.config).config["compare"]
            settings = Settings.from_section(section, **overrides)
        else:
            settings = Settings.defaults(**overrides)
        out = args.out or f"{pair_name(Path(args.a).stem, Path(args.b).stem)}.csv"
        table = compare_file(
            args.a,
            args.b,
            out,
            settings=settings,
            posterior=args.posterior,
            score_column=args.score_column,
            threshold=args.threshold,
            allow_unpaired=args.allow_unpaired,
        )
        print(f"A = {args.a}\nB = {args.b}")
        print_table(table, settings.hdi_prob)
        print(f"wrote {out}" + (f" and {args.posterior}" if args.posterior else ""))
        if args.fail_if_a_more_toxic and a_more_toxic(table):
            print("A is credibly more toxic than B in total", file=sys.stderr)
            return 1
        return 0

    parser.set_defaults(handler=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finetox", description=__doc__)
    parser.add_argument("--version", action="version", version=f"finetox {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments) in COMMANDS.items():
        add_arguments(subparsers.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_console_logging()
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        # Errors a user can act on: one clear message, no traceback.
        print(f"finetox {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
