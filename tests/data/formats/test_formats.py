"""Dataset formats by name: one registry dispatches every format, real and rendered; a typo is one line."""

from __future__ import annotations

import dataclasses

import pytest

from vwbench.data import formats
from vwbench.data.formats import FORMATS
from vwbench.data.formats.base import Reader
from vwbench.data.manifest import load_dataset, prepare_manifest
from vwbench.errors import VWBenchError


def test_every_registered_format_reads_or_renders():
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


def test_a_spec_with_an_unknown_format_is_refused_when_read(tmp_path):
    """The schema leaves `source.format` open (a plugin format needs no schema edit); the spec library checks the
    name against the registry, in one line naming the file and field."""
    import shutil

    from vwbench.errors import SpecError
    from vwbench.spec import SpecLibrary, default_spec_root

    shutil.copytree(default_spec_root(), tmp_path / "specs")
    path = tmp_path / "specs" / "datasets" / "tiny-objects.yaml"
    path.write_text(path.read_text().replace("format: synthetic", "format: synthetik"))
    with pytest.raises(SpecError) as err:
        SpecLibrary(tmp_path / "specs").dataset("tiny-objects")
    msg = str(err.value)
    assert "tiny-objects.yaml" in msg and "source.format" in msg and "did you mean 'synthetic'" in msg
    assert "\n" not in msg


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
