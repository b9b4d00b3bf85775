"""The micro-world renderer and datasets: known words only in captions, exact boxes, determinism."""

import numpy as np
import pytest

from vwbench.data.manifest import load_dataset
from vwbench.data.micro import world
from vwbench.data.micro.datasets import KINDS, parse_source_id
from vwbench.errors import VWBenchError
from vwbench.spec import SpecLibrary
from vwbench.tokenizer import single_token_id

MICRO_DATASETS = ["micro-objects", "micro-instances", "micro-clutter", "micro-scenes"]


def test_known_vocabulary_is_single_tokens_and_wider_than_every_micro_text_width():
    from vwbench.models.micro.clip import CONFIGS

    vocab = world.known_vocabulary()
    assert len({single_token_id(w) for w in vocab}) == len(vocab)
    widths = [c["text_width"] for c in CONFIGS.values()] + [32, 48]  # + sd, owlv2 text widths
    assert len(vocab) > max(widths)


def test_captions_use_only_known_words_and_never_name_a_novel_attribute():
    rng = np.random.default_rng(0)
    vocab = set(world.known_vocabulary())
    novel = set(world.NOVEL_COLOURS) | set(world.NOVEL_SHAPES_A) | set(world.NOVEL_SHAPES_B)
    seen_novel_objects = 0
    for _ in range(400):
        _, objects, cap = world.known_scene(rng, max_objects=3)
        words = set(cap.split())
        assert words <= vocab, words - vocab
        assert not words & novel
        seen_novel_objects += sum(o.shape in novel or o.colour in novel for o in objects)
    assert seen_novel_objects > 100  # novel things are drawn, only never named


def test_render_is_deterministic_and_objects_lie_inside_their_boxes():
    a = world.known_scene(np.random.default_rng(5), 3)
    b = world.known_scene(np.random.default_rng(5), 3)
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0])) and a[2] == b[2]
    for shape in world.SHAPES:
        box = (10.0, 12.0, 40.0, 42.0)
        mask = np.asarray(world._mask(shape, box, world.SIZE)) > 0
        ys, xs = np.nonzero(mask)
        assert len(xs) > 40, shape
        assert xs.min() >= 9 and xs.max() <= 41 and ys.min() >= 11 and ys.max() <= 43, shape


@pytest.mark.parametrize("name", MICRO_DATASETS)
def test_micro_datasets_label_the_largest_box_with_the_concept(name):
    spec = SpecLibrary().dataset(name)
    data = load_dataset(spec)
    assert len(data.concepts) == 10 and len({c.anchor for c in spec.concepts}) == 10
    for c in spec.concepts:
        assert len(data.train[c.id]) == spec.split["train_images"]
        for e in data.train[c.id] + data.test[c.id]:
            areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in e.boxes]
            assert e.box_labels[0] == c.id and areas[0] == max(areas)
            assert e.box_labels[1:] == [None] * (len(e.boxes) - 1)
            assert e.image().size == (world.SIZE, world.SIZE)
            lo, hi = KINDS[spec.source["kind"]]
            assert lo <= len(e.boxes) <= hi
    again = load_dataset(spec)
    first = data.concepts[0]
    assert np.array_equal(np.asarray(again.test[first][0].image()), np.asarray(data.test[first][0].image()))


def test_micro_concepts_are_built_from_novel_attributes_only():
    for name in MICRO_DATASETS:
        for c in SpecLibrary().dataset(name).concepts:
            shape, colour, _ = parse_source_id(c.source_id)
            assert shape not in world.KNOWN_SHAPES and colour not in world.KNOWN_COLOURS, c.id


def test_bad_source_ids_are_clear_errors():
    with pytest.raises(VWBenchError, match="shape:colour:pattern"):
        parse_source_id("hexagon")
    with pytest.raises(VWBenchError, match="unknown colour 'vermilion'"):
        parse_source_id("hexagon:vermilion:*")


def test_concept_size_sets_the_side_of_the_labelled_object_and_is_validated():
    from dataclasses import replace

    from vwbench.data.micro.datasets import micro_dataset

    spec = SpecLibrary().dataset("micro-clutter")
    lo, hi = spec.source["concept_size"]
    data = load_dataset(spec)
    sides = [(e.boxes[0][2] - e.boxes[0][0]) / world.SIZE for c in data.concepts for e in data.train[c] + data.test[c]]
    assert lo - 1e-6 <= min(sides) and max(sides) <= hi + 1e-6
    for bad in ([0.7, 0.5], [0, 0.5], [0.5], "big"):
        with pytest.raises(VWBenchError, match="concept_size"):
            micro_dataset(replace(spec, source={**spec.source, "concept_size": bad}))


def test_fresh_test_set_renders_new_images_of_the_same_concepts():
    from vwbench.tools.micro_check import fresh_test_set

    spec = SpecLibrary().dataset("micro-instances")
    data, fresh = load_dataset(spec), fresh_test_set(spec, 5)
    assert list(fresh) == data.concepts and all(len(v) == 5 for v in fresh.values())
    seen = {np.asarray(e.image()).tobytes() for c in data.concepts for e in data.train[c] + data.test[c]}
    assert not seen & {np.asarray(e.image()).tobytes() for v in fresh.values() for e in v}
    assert fresh_test_set(spec, 5)[data.concepts[0]][0].boxes == fresh[data.concepts[0]][0].boxes


def test_named_captions_use_withheld_single_token_names():
    """Trained with a word per novel attribute, shipped without it: every name is one CLIP token, none known,
    all distinct, named captions carry them, and the rows to store leave them out."""
    from vwbench.models.micro.training import trained_token_ids
    from vwbench.tokenizer import encode

    assert set(world.NAMES) == set(world.NOVEL_COLOURS) | set(world.NOVEL_SHAPES_A + world.NOVEL_SHAPES_B)
    names = list(world.NAMES.values())
    assert len(set(names)) == len(names) and not set(names) & set(world.known_vocabulary())
    ids = encode(names, 4, 0)
    assert (ids[:, 2] == 49407).all(), "every name is a single token"
    assert sorted(set(ids[:, 1].tolist())) == world.withheld_ids()
    rng = np.random.default_rng(3)
    caps = [world.known_scene(rng, 3, novel_rate=0.5, named=True)[2] for _ in range(200)]
    said = set(" ".join(caps).split())
    assert said & set(names) and not said & set(world.GENERIC_WORDS)
    assert not set(trained_token_ids(caps)) & set(world.withheld_ids())
    key = world.content_key([world.Obj("hexagon", "teal", "plain", (0, 0, 9, 9))], named=True)
    assert key == (("plain", "teal", "hexagon"),) and world.content_key(
        [world.Obj("hexagon", "teal", "plain", (0, 0, 9, 9))]
    ) == (("plain", "", ""),)
