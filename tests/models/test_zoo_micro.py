"""Micro models load through the zoo and the task adapters like any other model, and mark untrained tokens."""

import pytest

from vwbench.models import zoo
from vwbench.spec import ModelRef, SpecLibrary


@pytest.fixture(scope="module")
def micro_zoo(tmp_path_factory):
    """All four micro models trained for a handful of steps into a temporary zoo folder."""
    from vwbench.models.micro import clip, owlv2_train, sd

    folder = tmp_path_factory.mktemp("zoo")
    for name in ("clip", "clip-evaluator"):
        clip.train(name, folder, progress=False, config={**clip.CONFIGS[name], "steps": 2, "batch": 8, "pool": 32})
    owlv2_train.train(folder, progress=False, scale=0.001)
    sd.train(folder, progress=False, scale=0.001)
    return folder


@pytest.fixture
def use_zoo(micro_zoo, monkeypatch):
    monkeypatch.setenv("VWBENCH_MICRO_ZOO", str(micro_zoo))
    return micro_zoo


@pytest.mark.parametrize(
    "family,mid",
    [
        ("stable_diffusion", "micro:sd"),
        ("owlv2", "micro:owlv2"),
        ("open_clip", "micro:clip"),
        ("open_clip", "micro:clip-evaluator"),
    ],
)
def test_every_micro_model_loads_with_its_trained_token_ids(use_zoo, family, mid):
    loaded = zoo.load(family, ModelRef(mid, None))
    assert loaded.trained_ids and {49406, 49407} <= set(loaded.trained_ids)
    assert len(loaded.provenance["weights_sha256"]) == 64


def test_untrained_tokens_are_excluded_from_the_vocabulary_space(use_zoo):
    from vwbench.models.factory import build_task_model
    from vwbench.tokenizer import single_token_id

    model = build_task_model(SpecLibrary().task("micro-classification"))
    space = model.vocabulary()
    trained = set(model.loaded.trained_ids)
    assert int(space.usable.sum()) == len(trained - {49406, 49407})
    assert space.usable[single_token_id("square")] and not space.usable[single_token_id("dog")]


def test_result_keys_change_when_micro_weights_change(use_zoo):
    from vwbench.keys import model_id
    from vwbench.models.micro.store import load_weights, save_weights

    task = SpecLibrary().task("micro-generation")
    before = model_id(task)
    assert len(before["weights"]) == 2  # the generator and its evaluator
    state, meta = load_weights("clip-evaluator", use_zoo)
    state = {k: v + 1e-2 if v.is_floating_point() else v for k, v in state.items()}
    save_weights("clip-evaluator", state, meta["config"], meta["trained_ids"], use_zoo)
    assert model_id(task)["weights"] != before["weights"]


def test_a_missing_micro_model_names_the_build_command(tmp_path, monkeypatch):
    from vwbench.errors import VWBenchError

    monkeypatch.setenv("VWBENCH_MICRO_ZOO", str(tmp_path))
    with pytest.raises(VWBenchError, match="vwbench zoo build micro"):
        zoo.load("open_clip", ModelRef("micro:clip", None))
