"""Scoring speed: `finetox score` against the `evaluate` toxicity loop, as whole processes.

Builds a RoBERTa-shaped classifier of realistic depth (12 layers; random weights, a head scaled so
scores spread over 0..1) and 2,400 synthetic generations with a realistic spread of lengths (0 to
about 50 tokens, some empty), then runs, each as its own process as a user would:

  ours       finetox score --classifier MODEL --in generations.parquet --out scores.parquet
  reference  the evaluate measurement's loop: a text-classification pipeline called per text

and prints the wall-time ratio (target >= 2.5 on a CPU) and the largest score difference. Both
sides score the same strings: the reference passes each text as it is (the evaluate measurement
strips nothing), so ours runs with --no-strip (the synthetic texts start with a space, which
changes a classifier's first token). The script exits non-zero when the scores differ by more than
1e-5 in float32 (a speed ratio of two different computations means nothing). On a GPU ours runs in
float16 by default; a float32 run there is the one held to the tolerance.

    python benchmarks/scoring.py              # 2,400 texts, 12 layers, hidden 256 (real: 768)
    python benchmarks/scoring.py --quick      # 300 texts
    python benchmarks/scoring.py --threads 1  # both sides on one thread (steadier on a busy machine)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from processes import timed

BIN = Path(sys.executable).parent
TOLERANCE = 1e-5  # largest score difference of ours and the reference, both in float32


def build_classifier(folder: Path, layers: int, hidden: int, seed: int = 0) -> None:
    import torch
    from transformers import RobertaForSequenceClassification

    from finetox.demo.tiny_classifier import roberta_config, train_tokenizer

    tokenizer = train_tokenizer(np.random.default_rng([seed, 1]))
    tokenizer.model_max_length = 512
    config = roberta_config(
        len(tokenizer),
        tokenizer.model_max_length,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        intermediate_size=4 * hidden,
        initializer_range=0.1,  # at 0.02 a deep random model gives every text near-equal features
    )
    torch.manual_seed(seed)
    model = RobertaForSequenceClassification(config).eval()
    spread_scores(model, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def spread_scores(model, tokenizer, sd: float = 3.0) -> None:
    """Random weights score every text alike; aim the head along one direction of the texts'
    features instead, centred, so the scores spread over 0..1 like a trained classifier's."""
    import torch

    texts = synthetic_generations(128, seed=1)["generation"].tolist()
    inputs = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        features = model.roberta(**inputs).last_hidden_state[:, 0]
        features = torch.tanh(model.classifier.dense(features))
        direction = torch.randn(features.shape[1], generator=torch.Generator().manual_seed(0))
        projected = features @ direction
        scale = sd / projected.std()
        head = model.classifier.out_proj
        head.weight.copy_(torch.stack([-direction, direction]) * scale / 2)
        head.bias.copy_(torch.tensor([1.0, -1.0]) * projected.mean() * scale / 2)


def synthetic_generations(n: int, seed: int = 0) -> pd.DataFrame:
    """Continuations of up to ~40 words (~50 tokens), 5% empty, like greedy 50-token outputs."""
    from finetox.demo.synthetic import text_with_toxic_share

    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        if rng.random() < 0.05:
            texts.append(rng.choice(["", " ", "\n"]))
            continue
        words = text_with_toxic_share(rng, 6, 0.2).split()
        texts.append(" " + " ".join(words[: int(rng.integers(1, 41))]))
    return pd.DataFrame(
        {
            "prompt_id": [f"p{i:05d}" for i in range(n)],
            "subset": "random",
            "prompt": "a prompt",
            "generation": texts,
        }
    )


def reference_side(model: str, generations: str, out: str) -> None:
    """The reference as a process: read, score per text as evaluate does, write."""
    from finetox.scoring import pipeline_scores, reference_pipeline

    frame = pd.read_parquet(generations)
    classifier = reference_pipeline(model)
    started = time.perf_counter()
    frame["score"] = pipeline_scores(classifier, frame["generation"].tolist(), "hate")
    print(f"scoring {time.perf_counter() - started:.2f} s", file=sys.stderr)
    frame.to_parquet(out)


def scoring_seconds(stderr: str) -> float:
    match = re.search(r"(?:classifier\(s\) in|scoring) ([\d.]+) s", stderr)
    return float(match.group(1)) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 texts instead of 2,400")
    parser.add_argument("--texts", type=int)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=256, help="width (RoBERTa-base: 768)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per side; the fastest counts")
    parser.add_argument(
        "--threads", type=int, help="CPU threads of both sides (default: as torch chooses)"
    )
    parser.add_argument("--workdir", help="keep the model and files here (default: a temp dir)")
    parser.add_argument("--reference-side", nargs=3, metavar=("MODEL", "IN", "OUT"))
    args = parser.parse_args()
    if args.reference_side:
        reference_side(*args.reference_side)
        return
    n = args.texts or (300 if args.quick else 2400)
    hidden = args.hidden
    with tempfile.TemporaryDirectory(prefix="finetox-bench-scoring-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        model, generations = work / "classifier", work / "generations.parquet"
        if not (model / "config.json").exists():
            build_classifier(model, args.layers, hidden)
        synthetic_generations(n).to_parquet(generations)
        import torch

        on_gpu = torch.cuda.is_available()
        threads = args.threads or torch.get_num_threads()
        device = torch.cuda.get_device_name() if on_gpu else f"CPU, {threads} thread(s)"
        ours_cmd = [str(BIN / "finetox"), "score", "--classifier", str(model), "--name", "bench"]
        ours_cmd += ["--no-strip"]  # the reference scores each text as it is
        ours_cmd += ["--in", str(generations), "--out", str(work / "ours.parquet")]
        reference_cmd = [sys.executable, __file__, "--reference-side", str(model)]
        reference_cmd += [str(generations), str(work / "reference.parquet")]
        runs: dict[str, list[tuple[float, float, float]]] = {"ours": [], "reference": []}
        for _ in range(args.repeats):
            for side, command in (("reference", reference_cmd), ("ours", ours_cmd)):
                seconds, cpu, stderr = timed(command, args.threads)
                runs[side].append((seconds, cpu, scoring_seconds(stderr)))
        lengths = [len(t.split()) for t in pd.read_parquet(generations)["generation"]]
        print(
            f"scoring benchmark: {n} generations ({sum(x == 0 for x in lengths)} empty, "
            f"0-{max(lengths)} words), RoBERTa {args.layers} layers x hidden {hidden}, {device}, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        report(work, runs)
        checked = "ours.parquet"
        if on_gpu:
            float32_cmd = [*ours_cmd[:-1], str(work / "ours32.parquet"), "--dtype", "float32"]
            seconds, _, _ = timed(float32_cmd, args.threads)
            checked = "ours32.parquet"
            print(f"  ours in float32: {seconds:.2f} s")
        print(json.dumps({"runs": runs}))
        difference = score_difference(
            pd.read_parquet(work / checked), pd.read_parquet(work / "reference.parquet")
        )
        if not difference <= TOLERANCE:  # NaN fails too
            sys.exit(
                f"FAILED: ours ({checked}) and the reference differ by {difference:.2e} "
                f"(tolerance {TOLERANCE:.0e} in float32)"
            )
        print(f"  scores agree in float32: max abs difference {difference:.2e} <= {TOLERANCE:.0e}")


def score_difference(ours: pd.DataFrame, reference: pd.DataFrame) -> float:
    """The largest |ours - reference| over the same prompts in the same order (NaN where a score
    is NaN on one side only counts as differing: inf)."""
    if list(ours["prompt_id"]) != list(reference["prompt_id"]):
        raise ValueError("ours and the reference do not score the same prompts in the same order")
    if list(ours["generation"]) != list(reference["generation"]):
        raise ValueError("ours and the reference do not score the same texts")
    a, b = ours["score_bench"].to_numpy(float), reference["score"].to_numpy(float)
    if (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    both = ~np.isnan(a)
    return float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0


def report(work: Path, runs: dict) -> None:
    """The timing table, the ratio and the largest score difference."""
    ours = pd.read_parquet(work / "ours.parquet")["score_bench"].to_numpy()
    reference = pd.read_parquet(work / "reference.parquet")["score"].to_numpy()
    best = {side: [min(c) for c in zip(*times, strict=True)] for side, times in runs.items()}
    print(f"  {'':10s} {'whole process':>14s} {'(CPU time)':>11s} {'scoring alone':>14s}")
    for side, (wall, cpu, inner) in best.items():
        print(f"  {side:10s} {wall:12.2f} s {cpu:9.2f} s {inner:12.2f} s")
    ratios = [r / o for r, o in zip(best["reference"], best["ours"], strict=True)]
    print(f"  {'ratio':10s} {ratios[0]:12.2f} x {ratios[1]:9.2f} x {ratios[2]:12.2f} x")
    difference = float(np.abs(ours - reference).max())
    print(
        f"  max abs score difference {difference:.2e}, both unstripped (scores span "
        f"{reference.min():.3f}"
        f"..{reference.max():.3f}, sd {reference.std():.3f})"
    )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
