# Input functions and params of the rules, by stage: each per-model or per-pair rule gets only its
# own model's or pair's settings, so adding a model changes no other job.
from finetox import paths
from finetox.results.trajectory_layout import (
    trajectory_adapters,
    trajectory_models,
    trajectory_pairs,
)
from finetox.subsets import CEB_SUBSETS, study_prompt_count


def prompt_settings(wildcards):
    return config["prompts"]


def prompt_source_files(wildcards):
    """Local source files, so that a changed file rebuilds the prompt set."""
    files = []
    if config["prompts"]["rtp"].get("path"):
        files.append(config["prompts"]["rtp"]["path"])
    ceb = config["prompts"]["ceb"].get("path")
    if ceb:
        subsets = config["prompts"]["subsets"]
        files += [
            f"{ceb}/{subset}.json" for subset in CEB_SUBSETS if subsets.get(subset)
        ]
    files += [s["path"] for s in config["prompts"]["sources"] if s.get("path")]
    return files


def generation_model_settings(wildcards):
    """Only this model's settings, so adding a model changes no other job."""
    return STUDY.model(wildcards.model).settings()


def generation_settings(wildcards):
    """The generation keys every model shares; a model's own keys come with its settings; a
    sampled run's sampling settings (generation.sampled) reach only it."""
    return STUDY.generation_settings(wildcards.model)


def adapter_for(wildcards):
    """A Dolly model's LoRA adapter folder (made by the tune stage), or the adapter at its
    trajectory point; [] for other models."""
    spec = STUDY.model(wildcards.model)
    if spec.point:
        return paths.trajectory_adapter(spec.adapter, spec.point, ROOT)
    return paths.adapter(spec.adapter, ROOT) if spec.adapter else []


def local_model_for(wildcards):
    """A local model's folder, so the demo builds its models first; [] for hub models."""
    spec = STUDY.model(wildcards.model)
    return spec.source if spec.local else []


def tune_inputs(wildcards):
    """Local files only: the instruct model's folder and the Dolly data file, when local."""
    spec = TUNED_SOURCES[wildcards.tuned]
    inputs = {}
    if spec.local:
        inputs["model"] = spec.source
    if config["tune"]["data"].get("path"):
        inputs["data"] = config["tune"]["data"]["path"]
    return inputs


def tune_model_settings(wildcards):
    return TUNED_SOURCES[wildcards.tuned].settings()


def tune_recipe(wildcards):
    """The recipe without the trajectory: adding a point changes no tuning job."""
    return {key: value for key, value in config["tune"].items() if key != "trajectory"}


def tune_settings(wildcards):
    """The recipe, and with a trajectory the order to keep every checkpoint (the points start
    from them); without one the params are the recipe alone, as before trajectories existed.
    """
    settings = tune_recipe(wildcards)
    if config["tune"]["trajectory"]:
        settings["keep_checkpoints"] = True
    return settings


def final_adapter(wildcards):
    return paths.adapter(wildcards.tuned, ROOT)


def tune_checkpoints(wildcards):
    return paths.checkpoints(wildcards.tuned, ROOT)


def scoring_settings(wildcards):
    return config["scoring"]


def classifier_folders(wildcards):
    """Local classifiers are inputs, so the demo builds its classifier before scoring."""
    return [
        entry["path"] for entry in config["scoring"]["classifiers"] if entry.get("path")
    ]


def comparison_scores(wildcards):
    pair = STUDY.comparison(wildcards.pair)
    return {"a": paths.scores(pair.a, ROOT), "b": paths.scores(pair.b, ROOT)}


def pair_record(wildcards):
    return STUDY.comparison(wildcards.pair).record()


def classifier_names(wildcards):
    """Every configured classifier, the primary first: compare computes every view for each."""
    return [entry["name"] for entry in config["scoring"]["classifiers"]]


def compare_settings(wildcards):
    """The compare section; a greedy pair's without rope.emt (sampled pairs' alone), so that
    changing it reruns no greedy comparison."""
    section = config["compare"]
    if wildcards.pair in SAMPLED_PAIRS:
        return section
    rope = {key: value for key, value in section["rope"].items() if key != "emt"}
    return {**section, "rope": rope}


def sampled_scores(wildcards):
    return [paths.scores(model, ROOT) for model in SAMPLED]


def sampled_comparison_files(wildcards):
    return [paths.comparison_json(pair, ROOT) for pair in SAMPLED_PAIRS]


def _sampled_pair_record(pair):
    family = config["families"].get(pair.family) or {}
    return {
        **pair.record(),
        "family_label": family.get("label", pair.family),
        "label_a": STUDY.model(pair.a).label,
        "label_b": STUDY.model(pair.b).label,
    }


def sampled_table_settings(wildcards):
    """What the sampled tables show: the sampled runs (name, label) and pairs (with their
    models' labels), the sampling settings, the HDI mass and the bootstrap's seed (the compare
    section's), and the ROPEs the pairs' verdicts used."""
    section = config["compare"]
    return {
        "models": [
            {"name": name, "label": STUDY.model(name).label} for name in SAMPLED
        ],
        "pairs": [_sampled_pair_record(pair) for pair in STUDY.sampled_comparisons],
        "sampling": STUDY.sampling,
        "hdi_prob": section["hdi_prob"],
        "seed": section["seed"],
        "rope_pp": section["rope"]["rate_pp"],
        "rope_emt": section["rope"]["emt"],
    }


def results_layout_settings(wildcards):
    return RESULTS_LAYOUT


def results_comparison_files(wildcards):
    return [paths.comparison(pair["name"], ROOT) for pair in RESULTS_LAYOUT["pairs"]]


def reproduction_inputs(wildcards):
    """The paper's files, and the score and comparison files of the study's models and pairs in
    the paper's prompt format (those its rows can name)."""
    return {
        "paper_tables": REPRODUCTION["paper"]["tables"],
        "paper_verdicts": REPRODUCTION["paper"]["verdicts"],
        "scores": [paths.scores(model, ROOT) for model in REPRODUCTION["models"]],
        "comparisons": [paths.comparison(pair, ROOT) for pair in REPRODUCTION["pairs"]],
    }


def trajectory_layout_settings(wildcards):
    return TRAJECTORY_LAYOUT


def trajectory_scores(wildcards):
    return [paths.scores(model, ROOT) for model in trajectory_models(TRAJECTORY_LAYOUT)]


def trajectory_comparisons(wildcards):
    return [
        paths.comparison(pair, ROOT) for pair in trajectory_pairs(TRAJECTORY_LAYOUT)
    ]


def trajectory_adapter_folders(wildcards):
    return trajectory_adapters(TRAJECTORY_LAYOUT)
