"""Model families (vwbench/models/families/): registered by their file's name, tiny models built from their JSON
configs, and one-line errors for unknown families, unknown tiny models and kinds a family does not serve."""

from __future__ import annotations

import json

import pytest

from vwbench.errors import VWBenchError
from vwbench.models import zoo
from vwbench.models.families import CONFIGS, Family, family, read_config
from vwbench.registry import FAMILIES, package_modules

BUILTINS = {"stable_diffusion", "owlv2", "open_clip", "hf_clip", "sd_safety_checker"}


def test_every_family_file_is_a_builtin_registered_under_its_name():
    files = {p.stem for p in (CONFIGS.parent / "families").glob("*.py") if not p.stem.startswith("_")}
    assert set(package_modules("vwbench.models.families")) == files == BUILTINS
    for name in BUILTINS:
        assert isinstance(family(name), Family) and family(name).name == name


def test_unknown_family_is_one_line_with_did_you_mean():
    with pytest.raises(VWBenchError) as info:
        family("open-clip")
    msg = str(info.value)
    assert "unknown model family 'open-clip'; did you mean 'open_clip'" in msg and "\n" not in msg
    assert all(name in msg for name in BUILTINS)  # the known names


def test_a_family_serves_only_its_kinds():
    assert family("hf_clip").adapter("classification").task == "classification"
    with pytest.raises(
        VWBenchError,
        match=r"tasks/x.yaml: model family 'owlv2' cannot be the model of a "
        r"classification task \(it serves: detection\)",
    ):
        family("owlv2").adapter("classification", "tasks/x.yaml")
    with pytest.raises(VWBenchError, match=r"it serves: none"):
        family("sd_safety_checker").adapter("generation")


def test_a_family_name_is_taken_once_and_run_time_families_are_usable():
    class Toy(Family):
        """A toy family."""

    FAMILIES.register("toy")(Toy)
    try:
        assert family("toy").name == "toy" and "toy" in FAMILIES.names()
        with pytest.raises(VWBenchError, match="model family name 'owlv2' is already taken"):
            FAMILIES.register("owlv2")(Toy)
        with pytest.raises(VWBenchError, match="has no hub models"):
            family("toy").hub(None, None)
    finally:
        FAMILIES.unregister("toy")
    with pytest.raises(VWBenchError, match="unknown model family 'toy'"):
        family("toy")


def test_every_tiny_config_names_a_family_that_has_it():
    configs = sorted(CONFIGS.glob("tiny-*.json"))
    assert {p.name for p in configs} >= {
        "tiny-sd.json",
        "tiny-owlv2.json",
        "tiny-open_clip.json",
        "tiny-clip-evaluator.json",
        "tiny-safety-checker.json",
        "tiny-hf-clip.json",
    }
    for path in configs:
        config = json.loads(path.read_text())
        model_id = "tiny:" + path.stem[len("tiny-") :]
        assert config["family"] in BUILTINS and read_config(model_id, config["family"]) == config


def test_an_unknown_tiny_model_names_the_familys_own():
    with pytest.raises(VWBenchError) as info:
        read_config("tiny:sd", "hf_clip")
    assert (
        str(info.value)
        == "unknown tiny model 'tiny:sd' for family 'hf_clip' (known: tiny:clip-evaluator, tiny:hf-clip)"
    )


def test_tiny_text_widths_come_from_the_configs():
    widths = {i: zoo.tiny_text_width(i) for i in ("tiny:sd", "tiny:owlv2", "tiny:open_clip", "tiny:hf-clip")}
    assert widths == {"tiny:sd": 32, "tiny:owlv2": 48, "tiny:open_clip": 64, "tiny:hf-clip": 40}
    assert zoo.tiny_text_width("org/model") is None


def test_the_hf_clip_classifier_trims_prompts_without_changing_features():
    """The classification adapter cuts prompts at the longest row's end (trim_prompts): CLIPModel's causal,
    end-pooled text tower gives the same features as at full length."""
    import torch

    from vwbench.models.factory import build_task_model
    from vwbench.spec import SpecLibrary

    model = build_task_model(SpecLibrary().task("tiny-hf-classification"))
    prompt = model.prompts([model.tokenizer.single_token_id("square")])
    assert prompt.ids.shape[1] < model.context_length
    full = torch.zeros(1, model.context_length, dtype=torch.long)
    full[:, : prompt.ids.shape[1]] = prompt.ids
    assert torch.allclose(model.text_features(prompt.ids), model.text_features(full), atol=1e-6)
