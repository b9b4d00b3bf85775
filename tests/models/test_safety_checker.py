"""The optional safety checker (issue #16.5): diffusers' StableDiffusionSafetyChecker on generated images, counted in
each generation score's extra (`safety_flags`) and summed in results.json; off by default, where nothing changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from vwbench import hub
from vwbench.cli import main
from vwbench.errors import VWBenchError
from vwbench.tokenizer import single_token_id

CONCEPTS = ["red_square", "blue_circle"]


@pytest.fixture(scope="module")
def screened(tiny_suite):
    from vwbench.models.factory import build_task_model

    return build_task_model(hub.enable_safety_checker(tiny_suite).task("generation"), "cpu")


def _words(model, concepts):
    """The anchors' own embeddings as the words to score ([k, 1, d]) and their placeholder ids."""
    ids = [single_token_id(a) for a in ("square", "circle")][: len(concepts)]
    table = model.text_embedding().weight.detach()
    return torch.stack([table[i][None] for i in ids]), ids


def test_flags_are_counted_as_the_checker_says_and_scores_do_not_change(screened, tiny_models, objects):
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    assert isinstance(screened.safety.model, StableDiffusionSafetyChecker)
    vectors, ids = _words(screened, CONCEPTS)
    plain = tiny_models("generation")
    assert plain.safety is None  # off by default
    off = plain.evaluate(vectors, ids, CONCEPTS, objects)
    assert all("safety_flags" not in r["extra"] for r in off)
    checker = screened.safety.model
    weights = checker.concept_embeds_weights.clone()
    try:
        # a threshold between the images' scores, so that some are flagged and some not (independent count below)
        images = screened.generate(vectors, ids)
        pixels = screened.safety.processor(
            images=[im for ims in images for im in ims], return_tensors="pt"
        ).pixel_values
        embeds = checker.visual_projection(checker.vision_model(pixels)[1])
        cos = (
            torch.nn.functional.normalize(embeds, dim=-1)
            @ torch.nn.functional.normalize(checker.concept_embeds, dim=-1).T
        )
        best = cos.max(1).values.sort().values
        half = len(best) // 2
        assert best[half] - best[half - 1] > 0.002  # the checker rounds scores to 3 decimals
        checker.concept_embeds_weights.fill_(float(best[half - 1] + best[half]) / 2)
        checker.special_care_embeds_weights.fill_(2.0)  # never: no "special care" adjustment
        expected = [
            int((cos[i * len(ims) : (i + 1) * len(ims)].max(1).values - checker.concept_embeds_weights[0] > 0).sum())
            for i, ims in enumerate(images)
        ]
        on = screened.evaluate(vectors, ids, CONCEPTS, objects)
    finally:
        checker.concept_embeds_weights.copy_(weights)
    assert [r["extra"]["safety_flags"] for r in on] == expected and sum(expected) == len(best) - half
    assert [r["value"] for r in on] == [r["value"] for r in off]  # images are scored as generated
    assert [{k: v for k, v in r["extra"].items() if k != "safety_flags"} for r in on] == [r["extra"] for r in off]


def test_a_suite_without_a_declared_checker_refuses_the_flag(spec_copy):
    from vwbench.spec import SpecLibrary

    path = spec_copy / "tasks" / "tiny-generation.yaml"
    path.write_text(
        path.read_text().replace('safety_checker: {id: "tiny:safety-checker", revision: null}', "safety_checker: null")
    )
    with pytest.raises(VWBenchError, match="declares no safety_checker"):
        hub.enable_safety_checker(SpecLibrary(spec_copy).suite("tiny"))


def test_score_keys_change_only_when_the_checker_is_on(tiny_suite, tmp_path):
    from vwbench.fingerprint import packages
    from vwbench.store import Store
    from vwbench.study import Study, StudyOptions

    with Store(tmp_path / "s") as store:
        off = Study(tiny_suite, store, StudyOptions())
        on = Study(tiny_suite, store, StudyOptions(safety_checker=True))
        gen, det = tiny_suite.task("generation"), tiny_suite.task("detection")
        from vwbench import __version__

        assert off.score_key("v", gen, "in_domain", None) == store.key(
            "score",
            vector="v",
            model=off.model_ids[gen.name],
            method="in_domain",
            fit=None,
            version=__version__,
            packages=packages(),
        )
        on_gen, on_det = on.suite.task("generation"), on.suite.task("detection")  # the run's own task specs
        assert on_gen.safety and not gen.safety
        assert on.score_key("v", on_gen, "in_domain", None) != off.score_key("v", gen, "in_domain", None)
        assert on.score_key("v", on_det, "in_domain", None) == off.score_key("v", det, "in_domain", None)
        assert on.model_ids == off.model_ids  # learned words are not relearned


def test_run_with_the_checker_sums_flags_in_results_json(tmp_path, capsys):
    specs = tmp_path / "specs"
    shutil.copytree(Path(__file__).resolve().parents[2] / "vwbench" / "specs", specs)
    (specs / "suites" / "gen.yaml").write_text(
        "name: gen\ntasks: [tiny-generation]\ndatasets: [tiny-objects]\nanchors: own\n"
        "train: {steps: 1, lr: 0.05, batch_size: 2, seed: 0, concepts_per_batch: 9}\ncontrols: [anchor]\n"
    )
    out = tmp_path / "lb"
    args = [
        "--specs",
        str(specs),
        "run",
        "--suite",
        "gen",
        "--limit",
        "2",
        "--store",
        str(tmp_path / "st"),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main([*args, "--safety-checker"]) == 0
    doc = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert rows and all("safety_flags" in r["extra"] for r in rows)
    assert doc["safety_flags"] == {
        "flagged_images": sum(r["extra"]["safety_flags"] for r in rows),
        "screened_images": sum(r["extra"]["n_images"] for r in rows),
        "scores": len(rows),
    }
    assert doc["provenance"]["runs"] and "safety_flags" in doc
    # without the flag the same run keeps its own scores and writes no safety_flags
    assert main([*args, "--out", str(tmp_path / "lb2")]) == 0
    assert "safety_flags" not in json.loads((tmp_path / "lb2" / "results.json").read_text())
