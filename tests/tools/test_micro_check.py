"""`vwbench zoo check micro` (vwbench/tools/micro_check.py): the shipped micro models meet their gates on a reduced
sample, the 40 concepts are new words for them, and the verdict and score helpers on constructed inputs."""

import torch

from vwbench.spec import SpecLibrary
from vwbench.tools import micro_check as check


def test_shipped_clip_and_owlv2_pass_their_gates_on_a_reduced_sample():
    rows = check.check_clip(200) + check.check_owlv2(60)
    gated = [r for r in rows if r.gate is not None]
    assert {r.model for r in gated} == {"clip", "owlv2"}
    failed = [f"{r.model}: {r.measure} = {r.value:.3f} < {r.gate}" for r in gated if not r.passed]
    assert not failed, failed


def test_shipped_sd_passes_its_gate_on_a_reduced_sample():
    (row,) = check.check_sd(40, SpecLibrary())
    assert row.passed, f"{row.measure} = {row.value:.3f} < {row.gate}"


def test_the_evaluator_tells_the_40_concepts_apart_on_real_images():
    rows = check.check_prototypes(SpecLibrary())
    assert len(rows) == 4 and all(r.value > 3 * r.chance for r in rows), [(r.measure, r.value) for r in rows]


def _row(dataset, concept, known_ap, learned_ap):
    return {
        "dataset": dataset,
        "concept": concept,
        "known_ap": known_ap,
        "learned_ap": learned_ap,
        "gap": learned_ap - known_ap,
    }


def test_newness_verdict_fails_a_dataset_with_a_concept_known_words_reach():
    rows = [_row("a", f"c{i}", 0.2, 0.9) for i in range(9)] + [_row("a", "easy", 0.95, 1.0)]
    rows += [_row("b", f"c{i}", 0.2, 0.9) for i in range(9)] + [_row("b", "hard", 0.15, 0.2)]
    rows += [_row("c", f"c{i}", 0.4, 0.55) for i in range(10)]
    v = check.newness_verdict(rows)
    assert v["a"]["reached_by_known_words"] == ["easy"] and not v["a"]["passed"]
    assert v["b"]["reached_by_neither"] == ["hard"] and v["b"]["passed"]
    assert abs(v["b"]["gap"] - (9 * 0.7 + 0.05) / 10) < 1e-9
    assert not v["c"]["passed"] and abs(v["c"]["gap"] - 0.15) < 1e-9  # every concept clear, mean gap below 0.2


def test_the_40_concepts_are_new_words_for_the_shipped_models():
    rows = check.newness(SpecLibrary(), n_test=30)
    assert len(rows) == 40 and {r["n_test"] for r in rows} == {30}
    verdict = check.newness_verdict(rows)
    failed = {k: (round(v["gap"], 3), v["reached_by_known_words"]) for k, v in verdict.items() if not v["passed"]}
    assert not failed, failed


def test_retrieval_ap_and_ten_way_scores_on_constructed_features():
    eye = torch.eye(3)
    split = {"a": eye[[0, 0]], "b": eye[[1, 1]], "c": eye[[2, 2]]}
    texts = torch.stack([eye[0], eye[1], -eye[0]])  # ranks a's images first, last-but-tied, last
    ap = check._retrieval_ap(split, ["a", "b", "c"], 0, texts)
    assert ap[0] == 1.0 and ap[2] < 0.5
    names = torch.stack([eye[1], eye[1], eye[2]])  # concept a's rivals: b's and c's names
    ten = check._ten_way(split, ["a", "b", "c"], names, 0, torch.stack([eye[0], eye[1]]))
    assert ten[0] == 1.0  # wins on a's images, on no other
    assert ten[1] == 0.0  # ties with b's name everywhere, so wins nowhere


def test_free_query_finds_the_direction_of_the_positive_regions():
    g = torch.Generator().manual_seed(0)
    d = 8
    axis = torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0)
    noise = torch.randn(200, d, generator=g)
    positive = torch.zeros(200, dtype=torch.bool)
    positive[:20] = True
    # every region shares a common direction (an objectness-like part); only positives add `axis`
    common = torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0)
    embeds = torch.nn.functional.normalize(2 * common + 0.3 * noise + 1.5 * axis * positive[:, None], dim=-1)
    q = check.free_query({"embeds": embeds, "shift": torch.zeros(200), "scale": torch.full((200,), 10.0)}, positive)
    scores = embeds @ q
    assert scores[:20].min() > scores[20:].max()  # it separates them ...
    mean_q = torch.nn.functional.normalize(embeds[positive].mean(0), dim=0)
    assert q @ axis > mean_q @ axis  # ... by the direction that tells them apart, not the shared one


def test_the_detection_ceilings_are_above_chance_and_the_fitted_query_is_not_worse():
    # instances: the dataset with the fewest images (the CLI prints all four)
    rows = check.check_region_ceiling(SpecLibrary(), datasets=["micro-instances"])
    assert len(rows) == 2 and all(r.value > r.chance for r in rows), [(r.measure, r.value, r.chance) for r in rows]
    loss, ceiling = (r.value for r in rows)
    assert "loss's optimal" in rows[0].measure and "fitted" in rows[1].measure
    assert ceiling >= loss - 0.05, (loss, ceiling)  # fitted on other concepts' regions too, it is not much worse
