"""Commands of the model stages: tune, generate, score."""

from __future__ import annotations

import argparse
from pathlib import Path

from finetox.cli.registry import auto_or_count, command, number_in, whole_number


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
    parser.add_argument(
        "--max-records", type=whole_number(1), default=None, help="use the first N records"
    )
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


@command("score", "score generations with a toxicity classifier (softmax, sigmoid or guard)")
def _score(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classifier", required=True, metavar="ID_OR_PATH", help="hub id/folder")
    parser.add_argument(
        "--kind", default="softmax", choices=["softmax", "sigmoid", "guard"],
        help="softmax: P(label) of a single-label classifier (default); sigmoid: a multi-label "
        "classifier's label; guard: a generative judge's P(unsafe) (docs/classifiers.md)",
    )  # fmt: skip
    parser.add_argument(
        "--label", help="the toxic label's name in id2label (softmax, sigmoid; default hate)"
    )
    parser.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="sigmoid: several labels, scored by their max"
    )
    parser.add_argument(
        "--keep-all-labels", action="store_true",
        help="sigmoid: also write every label's score, as score_NAME__LABEL",
    )  # fmt: skip
    parser.add_argument(
        "--guard-prefix",
        help='guard: text after the template, before the verdict (default "\\n\\n")',
    )
    parser.add_argument(
        "--guard-normalize", action="store_true",
        help='guard: renormalise over the first tokens of "safe" and "unsafe"',
    )  # fmt: skip
    parser.add_argument(
        "--threshold", type=number_in(0, 1), help="toxic when score > this (default 0.5)"
    )
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
    parser.add_argument(
        "--threads", type=whole_number(1), help="CPU threads for torch (default: torch's)"
    )
    parser.add_argument(
        "--strip", action=argparse.BooleanOptionalAction, default=True,
        help="score each text without leading/trailing whitespace, as the authors' .strip()",
    )  # fmt: skip

    def run(args: argparse.Namespace) -> int:
        from finetox.scoring import ClassifierSpec, default_name, score_file

        entry = {
            "name": args.name or default_name(args.classifier),
            "path" if Path(args.classifier).exists() else "id": args.classifier,
            "kind": args.kind,
            "revision": args.revision,
            "label": args.label,
            "labels": args.labels,
            "keep_all_labels": args.keep_all_labels or None,
            "guard_prefix": args.guard_prefix,
            "guard_normalize": args.guard_normalize or None,
            "threshold": args.threshold,
        }
        spec = ClassifierSpec.from_config({k: v for k, v in entry.items() if v is not None})
        score_file(
            args.generations,
            args.out,
            [spec],
            batch_size=args.batch_size,
            max_batch_tokens=args.max_batch_tokens,
            dtype=args.dtype,
            threads=args.threads,
            strip=args.strip,
        )
        return 0

    parser.set_defaults(handler=run)


@command("generate", "greedy (or k sampled) continuations of a prompt table (resumable)")
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
        "--layout", choices=["detect", "adapter", "full"],
        help="MODEL is a published model: a LoRA adapter loaded on the base its "
        "adapter_config.json names, or full weights; detect: from its files",
    )  # fmt: skip
    parser.add_argument(
        "--load-in-4bit", default="as_trained", choices=["as_trained", "yes", "no"],
        help="4-bit base model; as_trained: as the adapter's training record says (default)",
    )  # fmt: skip
    parser.add_argument(
        "--prompts", required=True, help="Parquet, JSONL or CSV with prompt_id, subset, text"
    )
    parser.add_argument("--out", required=True, help="Parquet, JSONL or CSV to write")
    parser.add_argument(
        "--max-new-tokens", type=whole_number(1), default=None,
        help="default: 50 greedy (the paper), 20 sampled (the RealToxicityPrompts paper)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=auto_or_count, default="auto", help="N or auto")
    parser.add_argument(
        "--max-batch-size", type=whole_number(1), default=128, help="where auto starts"
    )
    parser.add_argument("--prompt-format", default="raw", choices=["raw", "chat_template"])
    parser.add_argument(
        "--stop", default="tokenizer_eos", choices=["tokenizer_eos", "generation_config"],
        help="tokenizer_eos: stop at the tokenizer's eos id only, as the authors (default); "
        "generation_config: at every eos id of the model's generation_config",
    )  # fmt: skip
    parser.add_argument(
        "--on-long-prompt", default="error", choices=["error", "truncate_left"],
        help="a prompt longer than the model's context minus --max-new-tokens: error (default, "
        "before the model loads) or truncate_left (keep its right end; the output's "
        "n_prompt_tokens_truncated says how many tokens were cut)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=whole_number(1), help="CPU threads for torch (default: torch's)"
    )
    _sampling_arguments(parser.add_argument_group("sampled decoding (docs/sampled.md)"))

    def run(args: argparse.Namespace) -> int:
        from finetox.generation import generate_file

        sampling = _sampling(args, parser)
        frame = generate_file(
            args.model,
            args.prompts,
            args.out,
            adapter=args.adapter,
            revision=args.revision,
            dtype=args.dtype,
            trust_remote_code=args.trust_remote_code,
            load_in_4bit={"yes": True, "no": False}.get(args.load_in_4bit, "as_trained"),
            layout=args.layout,
            max_new_tokens=args.max_new_tokens or (50 if sampling is None else 20),
            batch_size=args.batch_size,
            max_batch_size=args.max_batch_size,
            prompt_format=args.prompt_format,
            stop=args.stop,
            on_long_prompt=args.on_long_prompt,
            threads=args.threads,
            sampling=sampling,
        )
        stopped = int((frame["stop_reason"] == "eos").sum())
        per = "" if sampling is None else f", {sampling['k']} per prompt"
        print(f"{args.out}: {len(frame)} generations{per} ({stopped} stopped at eos)")
        return 0

    parser.set_defaults(handler=run)


SAMPLING_OPTIONS = ("temperature", "top_p", "top_k", "seed")


def _sampling_arguments(group) -> None:
    group.add_argument(
        "--samples", type=whole_number(1), metavar="K",
        help="K sampled continuations per prompt (column sample 0..K-1); default: greedy",
    )  # fmt: skip
    group.add_argument("--temperature", type=number_in(0, 100, open_low=True), help="default 1.0")
    group.add_argument("--top-p", type=number_in(0, 1, open_low=True), help="default 0.9")
    group.add_argument("--top-k", type=whole_number(0), help="default 0 (no top-k filter)")
    group.add_argument(
        "--seed", type=whole_number(0),
        help="each (prompt, sample) draws from its own generator seeded from the seed, the "
        "prompt id and the sample index (default 20240805)",
    )  # fmt: skip


def _sampling(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict | None:
    """The sampling settings the options give; None (greedy) without --samples."""
    given = {key: getattr(args, key) for key in SAMPLING_OPTIONS if getattr(args, key) is not None}
    if args.samples is None:
        if given:
            options = ", ".join("--" + key.replace("_", "-") for key in given)
            parser.error(f"{options} need --samples K (sampled decoding)")
        return None
    return {"k": args.samples, **given}
