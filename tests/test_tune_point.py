"""Points along a tuning run (tune.trajectory): the adapter at a step the run kept a checkpoint
of is that checkpoint's; at any other step it is trained on from the nearest earlier checkpoint
with the run's own schedule, and equals the adapter trained straight to that step."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from finetox.config import section_defaults
from finetox.io import UserError
from finetox.loading import TRAINING_RECORD, load_causal_lm, load_tokenizer
from finetox.tune import tune_file, tune_point
from tests.tune_support import build_tiny_llama, write_dolly

# 24 records, batch 2 x accumulation 2: 6 optimizer steps, checkpoints at 2, 4, 6
SETTINGS = {
    "learning_rate": 3e-2,
    "max_seq_length": 48,
    "gradient_accumulation_steps": 2,
    "epochs": 1,
    "warmup_steps": 1,
    "save_steps": 2,
}
FINAL_STEP = 6


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run that kept its checkpoints, as one with a trajectory does."""
    folder = tmp_path_factory.mktemp("trajectory")
    model = {"source": str(build_tiny_llama(folder / "model"))}
    settings = section_defaults("tune")
    data = write_dolly(folder / "dolly.jsonl", n=24)
    settings.update(SETTINGS, data={**settings["data"], "path": str(data)})
    settings.pop("trajectory")
    checkpoints = folder / "checkpoints"
    tune_file(
        model=model, settings=settings, out=folder / "final", checkpoints=checkpoints,
        keep_checkpoints=True,
    )  # fmt: skip
    return {"model": model, "settings": settings, "folder": folder, "checkpoints": checkpoints}


def point(run, label, name=None, checkpoints=None):
    out = run["folder"] / (name or label)
    tune_point(
        model=run["model"], settings=run["settings"], final=run["folder"] / "final",
        point=label, out=out, checkpoints=checkpoints or run["checkpoints"],
    )  # fmt: skip
    return out


def weights(folder):
    return load_file(folder / "adapter_model.safetensors")


def record(folder):
    return json.loads((folder / TRAINING_RECORD).read_text())


def test_the_run_keeps_every_checkpoint(run):
    kept = sorted(p.name for p in run["checkpoints"].glob("checkpoint-*"))
    assert kept == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]


def test_a_point_at_a_kept_checkpoint_is_that_checkpoint(run):
    out = point(run, "step-4")
    checkpoint = weights(run["checkpoints"] / "checkpoint-4")
    assert weights(out).keys() == checkpoint.keys()
    for key, value in weights(out).items():
        assert torch.equal(value, checkpoint[key])
    assert record(out)["global_step"] == 4
    assert "copied" in record(out)["made"]
    assert record(out)["final_step"] == FINAL_STEP


def test_a_point_between_checkpoints_equals_training_straight_to_it(run, tmp_path):
    resumed = point(run, "step-3")
    straight = point(run, "step-3", name="straight", checkpoints=tmp_path / "none")
    assert "checkpoint at step 2" in record(resumed)["made"]
    assert "from step 0" in record(straight)["made"]
    a, b = weights(resumed), weights(straight)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    # and it is neither the checkpoint before nor the one after
    before = weights(run["checkpoints"] / "checkpoint-2")
    assert any(not torch.equal(a[key], before[key]) for key in a)


def test_evenly_spaced_points_resolve_against_the_run_length(run):
    out = point(run, "point-1of3")  # 6 / 3 = step 2
    assert record(out)["global_step"] == 2
    assert record(out)["point"] == "point-1of3"


def test_a_point_loads_and_generates_as_trained(run):
    out = point(run, "step-2", name="loaded")
    lm = load_causal_lm(run["model"]["source"], adapter=out, load_in_4bit="as_trained")
    ids = load_tokenizer(run["model"]["source"])("the river", return_tensors="pt").input_ids
    assert lm.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3


@pytest.mark.parametrize("label", ["step-6", "step-9", "point-3of3"])
def test_a_point_outside_the_run_is_refused_before_any_work(run, label):
    with pytest.raises(UserError, match=r"tune.trajectory: .*last step is 6"):
        point(run, label, name=f"bad-{label}")
    assert not (run["folder"] / f"bad-{label}").exists()


def test_an_existing_point_is_never_overwritten(run):
    out = point(run, "step-2", name="kept")
    before = weights(out)
    with pytest.raises(UserError, match="already exists"):
        point(run, "step-2", name="kept")
    for key, value in weights(out).items():
        assert torch.equal(value, before[key])
