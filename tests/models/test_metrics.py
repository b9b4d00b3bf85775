"""Task metrics on constructed inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import box_iou

from vwbench.metrics.detection import ap50
from vwbench.models.detection import region_weights
from vwbench.tokenizer import single_token_id


def _onehot(i: int, d: int) -> torch.Tensor:
    v = torch.zeros(d)
    v[i] = 1.0
    return v


# ------------------------------------------------------------------------------------------- region_weights


def test_region_weights_iou_positives():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [40, 40, 50, 50]], dtype=torch.float)
    w = region_weights(boxes, torch.tensor([[0.0, 0.0, 10.0, 10.0]]), 0.5)
    assert w.tolist() == pytest.approx([-0.5, -0.5, 0.5, 0.5])
    assert float(w.sum()) == pytest.approx(0.0)


def test_region_weights_fallback_to_best_region_per_target():
    boxes = torch.tensor([[0, 0, 10, 10], [5, 0, 15, 10], [30, 30, 40, 40]], dtype=torch.float)
    targets = torch.tensor([[3.0, 0.0, 25.0, 10.0], [30.0, 30.0, 60.0, 60.0]])
    iou = box_iou(boxes, targets)
    assert (iou < 0.5).all()  # no region reaches the threshold
    w = region_weights(boxes, targets, 0.5)
    assert w.tolist() == pytest.approx([1.0, -0.5, -0.5])  # region 1 best for target 0, region 2 for target 1


def test_region_weights_without_targets_are_all_negative():
    boxes = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=torch.float)
    w = region_weights(boxes, torch.zeros(0, 4), 0.5)
    assert w.tolist() == pytest.approx([0.5, 0.5])


# ------------------------------------------------------------------------------------------------ detection


def _far_boxes(gt):
    """Three boxes that do not overlap `gt` (the image is 64x64; boxes may leave it)."""
    x0, y0, x1, y1 = gt
    return [[x0 + 200, y0, x1 + 200, y1], [x0, y0 + 200, x1, y1 + 200], [x0 + 200, y0 + 200, x1 + 200, y1 + 200]]


def _detection_case(model, data, concept, query, good: bool):
    """Region caches for every test image: with `good`, the target's region embeds the query and the rest
    are orthogonal; otherwise negative images' regions embed the query and the target region its opposite."""
    d = query.shape[0]
    other = _onehot(1, d)
    test = {}
    for e in data.all_test():
        gt = e.target_boxes(concept)
        box = list(gt[0]) if gt else list(e.boxes[0])
        boxes = torch.tensor([box, *_far_boxes(box)], dtype=torch.float)
        if good:
            embeds = torch.stack([query if gt else other, other, other, other])
        else:
            embeds = torch.stack([-query, torch.zeros(d), torch.zeros(d), torch.zeros(d)]) if gt else query.repeat(4, 1)
        test[e.key] = {"embeds": embeds, "shift": torch.zeros(4), "scale": torch.full((4,), 5.0), "boxes": boxes}
    return test


@pytest.mark.parametrize("good", [True, False])
def test_detection_ap(tiny_models, objects, monkeypatch, good):
    model = tiny_models("detection")
    model.prepare(objects)
    d = model.token_embeddings().shape[1]
    query = _onehot(0, d)
    concept = "red_square"
    monkeypatch.setitem(
        model._cache, objects.name, {"train": {}, "test": _detection_case(model, objects, concept, query, good)}
    )
    monkeypatch.setattr(model, "encode_with_vectors", lambda v, ids, template=None: query.repeat(len(v), 1))
    [res] = model.evaluate(torch.zeros(1, 1, d), [single_token_id("square")], [concept], objects)
    assert res["extra"]["n_images"] == len(objects.all_test())  # default: every other concept's images too
    # chance: the zero query, whose logits are the text-independent shift alone (0 here: every box ties, and
    # the fixed image order spreads the tie), against the query's own AP
    zero = model.evaluate(torch.zeros(1, 1, d), [single_token_id("square")], [concept], objects)
    monkeypatch.setattr(model, "encode_with_vectors", lambda v, ids, template=None: torch.zeros(len(v), d))
    assert res["extra"]["chance"] == pytest.approx(
        model.evaluate(torch.zeros(1, 1, d), [single_token_id("square")], [concept], objects)[0]["value"]
    )
    assert zero[0]["extra"]["chance"] == res["extra"]["chance"] and res["extra"]["chance"] < 0.5
    if good:
        assert res["value"] == pytest.approx(1.0)
        assert res["extra"]["metrics"]["map"] == pytest.approx(1.0)
    else:
        assert res["value"] < 0.3


def test_detection_eval_images_all_negatives_by_default(tiny_models, objects):
    model = tiny_models("detection")
    imgs = model.eval_images("red_square", objects)
    assert sorted(e.key for e in imgs) == sorted(e.key for e in objects.all_test())


def test_detection_eval_images_balanced(tiny_models, objects, monkeypatch):
    model = tiny_models("detection")
    monkeypatch.setitem(model.spec.metric, "negatives_per_positive", 1)
    imgs = model.eval_images("red_square", objects)
    pos = [e for e in imgs if e.label == "red_square"]
    neg = [e for e in imgs if e.label != "red_square"]
    assert len(pos) == len(neg) == len(objects.test["red_square"])
    assert {e.label for e in neg} == {"blue_circle", "green_triangle"}  # round-robin over the other concepts


def test_detection_constant_query_scores_chance_not_the_learned_word(tiny_models, objects, monkeypatch):
    """A query that fires on every object (the same score for every concept's object) earns about what a random
    ranking of the objects earns, not most of the metric, once every other concept's images are negatives."""
    model = tiny_models("detection")
    model.prepare(objects)
    d = model.token_embeddings().shape[1]
    query = _onehot(0, d)
    test = {}
    for e in objects.all_test():
        box = list(e.boxes[0])
        boxes = torch.tensor([box, *_far_boxes(box)], dtype=torch.float)
        embeds = torch.stack([query, torch.zeros(d), torch.zeros(d), torch.zeros(d)])  # every object fires
        test[e.key] = {"embeds": embeds, "shift": torch.zeros(4), "scale": torch.full((4,), 5.0), "boxes": boxes}
    monkeypatch.setitem(model._cache, objects.name, {"train": {}, "test": test})
    monkeypatch.setattr(model, "encode_with_vectors", lambda v, ids, template=None: query.repeat(len(v), 1))
    res = model.evaluate(torch.zeros(3, 1, d), [single_token_id("square")] * 3, objects.concepts, objects)
    mean_ap = float(np.mean([r["value"] for r in res]))
    # the AP of the objects ranked at random among themselves: each image's object box with a random score
    objects_only = []
    for c in objects.concepts:
        for seed in range(8):
            g = torch.Generator().manual_seed(seed)
            objects_only.append(
                ap50(
                    model.predictions(
                        model.eval_images(c, objects),
                        c,
                        objects,
                        lambda r, g=g: torch.cat([torch.rand(1, generator=g) + 1, torch.zeros(3)]),
                    )
                )
            )
    assert mean_ap == pytest.approx(float(np.mean(objects_only)), abs=0.08)
    assert mean_ap < 0.5
    monkeypatch.setitem(model.spec.metric, "negatives_per_positive", 1)  # the old protocol: one negative each
    old = model.evaluate(torch.zeros(3, 1, d), [single_token_id("square")] * 3, objects.concepts, objects)
    assert float(np.mean([r["value"] for r in old])) > mean_ap


# ------------------------------------------------------------------------------------------- classification


def test_classification_accuracy_and_fpr(tiny_models, objects, monkeypatch):
    model = tiny_models("classification")
    model.prepare(objects)
    d = model.token_embeddings().shape[1]
    concepts = objects.concepts  # red_square, blue_circle, green_triangle
    e = {c: _onehot(i, d) for i, c in enumerate(concepts)}
    t, o = "red_square", "blue_circle"
    n = len(objects.test[t])
    test = {c: e[c].repeat(n, 1) for c in concepts}
    test[t] = torch.cat([e[t].repeat(n - 2, 1), e[o].repeat(2, 1)])  # two target images look like `o`
    monkeypatch.setitem(model._cache, objects.name, {"train": {}, "test": test})
    monkeypatch.setattr(model, "encode_texts", lambda texts: torch.stack([e[c] for c in concepts]))
    learned = torch.stack([e[t], 2 * (e[t] + e[o])])
    monkeypatch.setattr(model, "encode_with_vectors", lambda v, ids, template=None: learned[: len(v)])
    res = model.evaluate(torch.zeros(2, 1, d), [single_token_id("square")] * 2, [t, t], objects)
    m0, m1 = res[0]["extra"]["metrics"], res[1]["extra"]["metrics"]
    # word 0 = e_t: the two `o`-looking target images go to class o; no other image picks the target
    assert m0["accuracy"] == pytest.approx((n - 2) / n)
    assert m0["false_positive_rate"] == 0.0
    # word 1 = 2(e_t + e_o): every target image, and every image of o (half the others), picks the target
    assert m1["accuracy"] == 1.0
    assert m1["false_positive_rate"] == pytest.approx(0.5)
    # the headline AUROC of the word's similarity, target images vs the others, by pairwise counting
    for k in (0, 1):
        sims = {c: test[c] @ learned[k] for c in concepts}
        pos, neg = sims[t], torch.cat([sims[c] for c in concepts if c != t])
        pairs = (pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()
        assert res[k]["value"] == pytest.approx(float(pairs.mean()))
    assert res[0]["value"] == pytest.approx((n - 1) / n)  # n − 2 above every negative, 2 tied with all
    assert res[1]["extra"]["chance"] == 0.5


def test_classification_any_fixed_word_averages_auroc_one_half(tiny_models, objects):
    """The hub-robust headline: one vector for every concept (a word that fires for every image) gets a mean
    AUROC of exactly 0.5 over the dataset's concepts on balanced test sets, whatever the vector."""
    model = tiny_models("classification")
    model.prepare(objects)
    assert len({len(v) for v in objects.test.values()}) == 1  # balanced
    d = model.token_embeddings().shape[1]
    for seed in range(3):
        v = torch.randn(1, 1, d, generator=torch.Generator().manual_seed(seed)).repeat(3, 1, 1)
        res = model.evaluate(v, [single_token_id("square")] * 3, objects.concepts, objects)
        assert float(np.mean([r["value"] for r in res])) == pytest.approx(0.5, abs=1e-6)


# ----------------------------------------------------------------------------------------------- generation


class FakeEvaluator:
    def __init__(self, labels):
        self.labels, self.calls = labels, []

    def class_features(self, data):
        return [data.names[c] for c in data.concepts]

    def classify(self, images, names):
        self.calls.append((len(images), list(names)))
        return torch.tensor(self.labels[len(self.calls) - 1])


def test_generation_accuracy(tiny_models, objects, monkeypatch):
    model = tiny_models("generation")
    blank = Image.new("RGB", (32, 32))
    monkeypatch.setattr(model, "generate", lambda vectors, ids: [[blank] * 4 for _ in range(len(vectors))])
    # concept indices: red_square 0, blue_circle 1, green_triangle 2
    fake = FakeEvaluator([[0, 0, 1, 0], [2, 1, 1, 1]])
    monkeypatch.setattr(model, "evaluator", fake)
    d = model.token_embeddings().shape[1]
    res = model.evaluate(
        torch.zeros(2, 1, d), [single_token_id("square")] * 2, ["red_square", "green_triangle"], objects
    )
    assert [r["value"] for r in res] == [pytest.approx(0.75), pytest.approx(0.25)]
    assert res[0]["extra"]["n_images"] == 4
    assert fake.calls == [(4, ["red square", "blue circle", "green triangle"])] * 2


def test_prototype_evaluator_labels_each_concepts_own_image_as_that_concept():
    from vwbench.data.micro import world
    from vwbench.data.types import ConceptDataset, Example
    from vwbench.models.generation import CLIPEvaluator
    from vwbench.models.zoo import Loaded, build_tiny

    model, proc = build_tiny("tiny:clip-evaluator")
    rng = np.random.default_rng(0)
    images = {
        c: world.draw([world.Obj(s, col, "plain", (8, 8, 56, 56))], rng)
        for c, s, col in (("a", "hexagon", "teal"), ("b", "arrow", "red"), ("c", "ring", "white"))
    }
    ex = {c: [Example(key=f"{c}{i}", label=c, _image=im) for i in range(3)] for c, im in images.items()}
    data = ConceptDataset("d", list(images), {c: c for c in images}, ex, ex)
    ev = CLIPEvaluator(Loaded("hf_clip", model.eval(), proc), "a photo of a {}", "cpu", classes="prototypes")
    protos = ev.class_features(data)
    assert protos.shape[0] == 3 and torch.allclose(protos.norm(dim=-1), torch.ones(3))
    assert ev.classify([images["c"], images["a"], images["b"]], protos).tolist() == [2, 0, 1]


def test_generation_generate_runs_with_fixed_seeds(tiny_models, monkeypatch):
    model = tiny_models("generation")
    monkeypatch.setitem(model.spec.metric, "inference_steps", 2)  # spec.metric is a plain dict
    table = model.token_embeddings()
    ids = [single_token_id("square")]
    out1 = model.generate(table[ids][:, None], ids)
    model._generated.clear()  # generated again from scratch, not taken from the cache
    out2 = model.generate(table[ids][:, None], ids)
    n = int(model.spec.metric["images_per_trial"])
    assert len(out1) == 1 and len(out1[0]) == n
    assert out1[0][0].size == (model.spec.image_size, model.spec.image_size)
    assert [im.tobytes() for im in out1[0]] == [im.tobytes() for im in out2[0]]


def test_generation_generates_each_distinct_vector_once(tiny_models, monkeypatch):
    """Images depend on the vector alone: a repeated vector (the constant control, a shared anchor word, words
    that snap to one token) is generated once, and gets the images it would get on its own."""
    model = tiny_models("generation")
    monkeypatch.setitem(model.spec.metric, "inference_steps", 2)
    table = model.token_embeddings()
    ids = [single_token_id(w) for w in ("square", "circle", "square")]
    alone = [model.generate(table[[i]][:, None], [i])[0] for i in ids[:2]]
    model._generated.clear()
    calls = []

    class Counting:  # the pipeline, counting the prompts it is asked to draw
        def __init__(self, pipe):
            self.pipe = pipe

        def __getattr__(self, name):
            return getattr(self.pipe, name)

        def __call__(self, **kw):
            calls.append(len(kw["prompt_embeds"]))
            return self.pipe(**kw)

    monkeypatch.setattr(model, "pipe", Counting(model.pipe))
    both = model.generate(table[ids][:, None], ids)
    n = int(model.spec.metric["images_per_trial"])
    assert sum(calls) == 2 * n  # two distinct vectors, not three
    assert [im.tobytes() for im in both[0]] == [im.tobytes() for im in both[2]]
    for got, want in zip(both[:2], alone):
        assert [im.tobytes() for im in got] == [im.tobytes() for im in want]
    model.generate(table[ids[:1]][:, None], ids[:1])
    assert sum(calls) == 2 * n  # cached across calls too
