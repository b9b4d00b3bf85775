"""Dataset formats by name: one registry dispatches every format, real and rendered; a typo is one line."""

from __future__ import annotations

import dataclasses

import pytest

from vwbench.data import formats
from vwbench.data.formats import FORMATS
from vwbench.data.formats.base import Reader
from vwbench.data.manifest import load_dataset, prepare_manifest
from vwbench.errors import VWBenchError


def test_every_schema_format_is_registered():
    from vwbench.spec import schema

    assert set(schema("dataset")["properties"]["source"]["properties"]["format"]["enum"]) == set(FORMATS.names())
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        assert fmt.name == name
        assert fmt.rendered == (name in ("synthetic", "micro"))
        assert fmt.rendered or issubclass(fmt, Reader)
    assert [n for n in FORMATS.names() if FORMATS.get(n).needs_boxes] == ["dreambooth"]


def test_unknown_format_is_one_line_with_did_you_mean(tiny_suite):
    ds = dataclasses.replace(tiny_suite.datasets[0], source={**tiny_suite.datasets[0].source, "format": "cocoo"})
    for call in (lambda: load_dataset(ds), lambda: prepare_manifest(ds, ".")):
        with pytest.raises(VWBenchError) as err:
            call()
        msg = str(err.value)
        assert "source.format: unknown dataset format 'cocoo'; did you mean 'coco'" in msg and "\n" not in msg


def test_rendered_formats_load_through_the_registry(tiny_suite):
    from vwbench.data.synthetic import synthetic_dataset

    ds = tiny_suite.datasets[0]
    assert formats.is_rendered(ds)
    a, b = load_dataset(ds), synthetic_dataset(ds)
    assert a.concepts == b.concepts
    assert [e.key for e in a.train[a.concepts[0]]] == [e.key for e in b.train[b.concepts[0]]]
    with pytest.raises(VWBenchError, match="needs no manifest"):
        prepare_manifest(ds, ".")


def test_real_formats_are_not_rendered_and_refuse_a_boxes_file_unless_they_need_one(coco_spec, coco_root, tmp_path):
    spec = coco_spec
    assert not formats.is_rendered(spec)
    with pytest.raises(VWBenchError, match="--boxes applies to DreamBooth only"):
        formats.get(spec).open(spec, coco_root, tmp_path / "boxes.json")
    reader = formats.get(spec).open(spec, coco_root)
    assert reader.provenance()["format"] == "coco" and not reader.pooled
