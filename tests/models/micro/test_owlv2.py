"""The micro-world OWLv2 detector: tiny training round trip and the DETR set-prediction loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from vwbench.data.micro import world
from vwbench.models.micro import owlv2, owlv2_train, set_loss
from vwbench.tokenizer import BOS_ID, EOS_ID, encode

KEY = "owlv2.text_model.embeddings.token_embedding.weight"


def test_tiny_training_round_trip(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    fitted = {}
    fit = owlv2_train._fit
    monkeypatch.setattr(owlv2_train, "_fit", lambda *a, **k: fitted.setdefault("out", fit(*a, **k)))
    report = owlv2_train.train(tmp_path, seed=0, progress=False, scale=0.001)
    trained, _, _, _, ids, _ = fitted["out"]
    assert report["steps"] >= 2 and np.isfinite(report["final_loss"])
    assert 0.0 <= report["ap50"] <= 1.0 and 0.0 <= report["chance_ap50"] <= 1.0
    assert (tmp_path / "owlv2.safetensors").is_file() and (tmp_path / "owlv2.json").is_file()

    # only the query words' rows (plus start/end, which every query uses) are stored
    raw = load_file(str(tmp_path / "owlv2.safetensors"))
    stored = raw[KEY + ".ids"].tolist()
    assert stored == ids and BOS_ID in stored and EOS_ID in stored
    assert raw[KEY + ".rows"].shape == (len(ids), 48) and len(ids) < 100
    assert set(encode(["a photo of"], 16)[0].tolist()) - {0} <= set(stored)
    never = encode(["hexagon teal lavender"], 16)[0]  # novel words: never in a caption or query
    assert not set(never[1 : int((never == EOS_ID).nonzero()[0])].tolist()) & set(stored)

    model, _ = owlv2.load(tmp_path)
    assert not model.training
    want = trained.state_dict()
    got = model.state_dict()
    assert set(got) == set(want)
    for k, v in want.items():
        if k == KEY:
            torch.testing.assert_close(got[k][ids], v[ids].half().float(), rtol=0, atol=0)
        else:
            torch.testing.assert_close(got[k], v.half().float() if v.is_floating_point() else v, rtol=0, atol=0)
    # the text tower reads the same queries (start/end rows included), within fp16 precision
    texts = ["a photo of a red square", "a photo of a striped blue circle"]
    with torch.no_grad():
        torch.testing.assert_close(
            owlv2.text_queries(model, texts), owlv2.text_queries(trained, texts), rtol=0.02, atol=0.02
        )


def test_processor_is_plain_normalization():
    from PIL import Image

    _, processor = owlv2.build({"vision_layers": 1, "text_layers": 1})
    image = world.draw([world.Obj("star", "red", "striped", (8, 8, 40, 40))], np.random.default_rng(0))
    want = processor(images=image, return_tensors="pt").pixel_values
    got = owlv2.normalize(torch.from_numpy(np.array(image))[None], processor)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert isinstance(image, Image.Image)


def test_heads_start_unsaturated():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, _ = owlv2.build({})
    pixels = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats, boxes, objectness = owlv2.image_outputs(model, pixels)
    assert feats.shape == (2, 64, 96) and boxes.shape == (2, 64, 4)
    torch.testing.assert_close(boxes[0], torch.sigmoid(model.box_bias))  # last box layer zeroed
    assert (boxes > 0.01).all() and (boxes < 0.99).all()
    assert objectness.abs().max() < 10


@pytest.mark.parametrize("seed", range(5))
def test_hungarian_matches_brute_force(seed):
    cost = torch.rand(3, 3, generator=torch.Generator().manual_seed(seed))
    rows, cols = set_loss.hungarian(cost)
    best = min(itertools.permutations(range(3)), key=lambda p: sum(float(cost[i, p[i]]) for i in range(3)))
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == list(best)


def _case():
    """6 regions, 2 queries, 2 objects: regions 1 and 4 hold the objects' boxes and the right classes."""
    gt = torch.tensor([[0.25, 0.25, 0.3, 0.3], [0.7, 0.6, 0.2, 0.4]])
    boxes = torch.tensor(
        [
            [0.5, 0.5, 0.1, 0.1],
            gt[0].tolist(),
            [0.1, 0.9, 0.1, 0.1],
            [0.9, 0.1, 0.1, 0.1],
            gt[1].tolist(),
            [0.5, 0.2, 0.1, 0.1],
        ]
    )
    logits = torch.full((6, 2), -6.0)
    logits[1, 0] = logits[4, 1] = 6.0
    return logits[None], boxes[None], gt, torch.tensor([0, 1])


def test_set_loss_prefers_perfect_predictions():
    logits, boxes, gt, query = _case()
    perfect, parts = set_loss.set_prediction_loss(logits, boxes, None, [gt], [query], None, owlv2.TRAIN)
    rows, cols = parts["matches"][0]
    assert dict(zip(rows.tolist(), cols.tolist())) == {1: 0, 4: 1}
    assert parts["l1"] < 1e-6 and parts["giou"] < 1e-6
    # the same boxes at the wrong regions, the classes swapped, or the boxes moved: all cost more
    swapped_boxes = boxes[:, [0, 4, 2, 3, 1, 5]]
    for lg, bx in ((logits, swapped_boxes), (logits[..., [1, 0]], boxes), (logits, boxes[:, torch.randperm(6)])):
        worse, _ = set_loss.set_prediction_loss(lg, bx, None, [gt], [query], None, owlv2.TRAIN)
        assert worse > perfect
    shuffled = boxes.clone()
    shuffled[0, [1, 4]] = torch.tensor([[0.6, 0.3, 0.2, 0.2], [0.3, 0.7, 0.3, 0.2]])
    worse, _ = set_loss.set_prediction_loss(logits, shuffled, None, [gt], [query], None, owlv2.TRAIN)
    assert worse > perfect


def test_set_loss_gradients_and_positive_queries():
    logits, boxes, gt, query = _case()
    logits, boxes = logits.clone().requires_grad_(), boxes.clone().requires_grad_()
    objectness = torch.zeros(1, 6, requires_grad=True)
    positive = torch.tensor([[True, True], [False, True]])  # query 1 also describes object 0
    loss, parts = set_loss.set_prediction_loss(logits, boxes, objectness, [gt], [query], [positive], owlv2.TRAIN)
    loss.backward()
    assert logits.grad[0, 1, 1] < 0  # region 1 is pushed up on query 1 too
    assert objectness.grad[0, 1] < 0 and objectness.grad[0, 0] > 0
    assert "objectness" in parts and torch.isfinite(loss)


def test_phrase_keys():
    red_hex = world.Obj("hexagon", "red", "plain", (0, 0, 10, 10))
    striped_square = world.Obj("square", "red", "striped", (0, 0, 10, 10))
    assert owlv2.phrase_key("a photo of a red thing") == owlv2.object_key(red_hex)
    assert owlv2.phrase_key("a photo of a plain red object") == owlv2.object_key(red_hex)
    assert owlv2.phrase_key("a photo of a red square") != owlv2.object_key(striped_square)
    assert owlv2.phrase_key("a photo of a striped red square") == owlv2.object_key(striped_square)
    rng = np.random.default_rng(0)
    for _ in range(200):
        o = world.random_object(rng, (0, 0, 10, 10))
        assert owlv2.phrase_key(owlv2.PROMPT + world.phrase(o, rng)) == owlv2.object_key(o)
        # named (how the zoo is trained): the withheld name stands for the novel attribute itself
        assert owlv2.phrase_key(owlv2.PROMPT + world.phrase(o, rng, named=True)) == owlv2.object_key(o, named=True)
    assert owlv2.phrase_key("a photo of a red comb") == ("plain", "red", "hexagon") == owlv2.object_key(red_hex, True)


def test_adapter_reads_the_same_regions():
    """The detection adapter's region path (image_embedder, class head, box_predictor) sees what training sees."""
    from types import SimpleNamespace

    from vwbench.models.detection import DetectionModel
    from vwbench.models.families import family

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model, processor = owlv2.build({"vision_layers": 2})
    model.eval()
    rng = np.random.default_rng(3)
    image = world.draw([world.Obj("ring", "blue", "dotted", (10, 20, 40, 50))], rng)
    stub = SimpleNamespace(
        model=model,
        loaded=SimpleNamespace(processor=processor),
        device="cpu",
        dtype=torch.float32,
        family=family("owlv2"),
    )
    with torch.no_grad():
        r = DetectionModel.regions(stub, image)
        feats, boxes, _ = owlv2.image_outputs(
            model, owlv2.normalize(torch.from_numpy(np.array(image))[None], processor)
        )
        query = owlv2.text_queries(model, ["a photo of a dotted blue ring"])
        logits = owlv2.class_logits(model, feats, query)[0, :, 0]
    text = torch.nn.functional.normalize(query[0], dim=-1)
    torch.testing.assert_close(r["boxes"], set_loss.cxcywh_to_xyxy(boxes[0]) * world.SIZE, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close((r["embeds"] @ text + r["shift"]) * r["scale"], logits, rtol=1e-4, atol=1e-4)


def test_appearance_regions_add_every_region_that_covers_an_object():
    # image 0: two objects; regions 0 and 1 are Hungarian-matched, region 2 covers object 1 (IoU 0.81), region 3
    # covers nothing; image 1 has no objects
    gt = [torch.tensor([[0.25, 0.25, 0.2, 0.2], [0.7, 0.7, 0.4, 0.4]]), torch.zeros(0, 4)]
    boxes = torch.tensor(
        [
            [[0.25, 0.25, 0.2, 0.2], [0.7, 0.7, 0.4, 0.4], [0.7, 0.7, 0.36, 0.36], [0.1, 0.9, 0.1, 0.1]],
            [[0.5, 0.5, 0.2, 0.2]] * 4,
        ]
    )
    matches = [(torch.tensor([0, 1]), torch.tensor([0, 1])), (torch.zeros(0, dtype=torch.long),) * 2]
    assert owlv2_train._appearance_regions(matches, boxes, gt, "matched") == [(0, 0, 0), (0, 1, 1)]
    assert owlv2_train._appearance_regions(matches, boxes, gt, "overlap") == [(0, 0, 0), (0, 1, 1), (0, 2, 1)]
    with pytest.raises(ValueError, match="appearance_regions"):
        owlv2_train._appearance_regions(matches, boxes, gt, "all")
