"""A stored result is keyed by its manifest's content, not its path (issue #14): the same manifest elsewhere reuses
everything; a manifest rewritten in place (other image bytes) recomputes the vectors and says why."""

from __future__ import annotations

import shutil

from PIL import Image

from vwbench.data.manifest import prepare_manifest
from vwbench.spec import SpecLibrary
from vwbench.store import Store
from vwbench.study import Study, StudyOptions


def run(specs, store_root, manifest):
    suite = SpecLibrary(specs.root).suite("voc-keys")
    with Store(store_root) as store:
        return Study(
            suite, store, StudyOptions(methods=[], data={"voc-mini": str(manifest)}, progress=False, device="cpu")
        ).run()


def test_manifest_content_not_path_keys_the_results(voc_root, voc_spec, specs, tmp_path):
    (specs.root / "suites" / "voc-keys.yaml").write_text(
        "name: voc-keys\ntasks: [tiny-detection]\ndatasets: [voc-mini]\nanchors: own\n"
        "train: {steps: 1, lr: 0.05, batch_size: 2, seed: 0}\ncontrols: []\n"
    )
    manifest = tmp_path / "voc.jsonl"
    prepare_manifest(voc_spec, voc_root, manifest)
    first = run(specs, tmp_path / "store", manifest)
    assert dict(first.computed) == {"vectors": 2, "scores": 2} and not first.replaced

    moved = tmp_path / "elsewhere" / "voc.jsonl"
    moved.parent.mkdir()
    shutil.copy(manifest, moved)
    again = run(specs, tmp_path / "store", moved)
    assert not again.computed and dict(again.reused) == {"vectors": 2, "scores": 2}

    for f in sorted((voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg")):
        size = Image.open(f).size
        Image.new("RGB", size, (10, 200, 40)).save(f, "JPEG", quality=90)
    before = manifest.read_bytes()
    prepare_manifest(voc_spec, voc_root, manifest)  # the same path, other images
    assert manifest.read_bytes() != before
    third = run(specs, tmp_path / "store", manifest)
    assert dict(third.computed) == {"vectors": 2, "scores": 2}
    assert dict(third.replaced) == {"vectors": 2, "scores": 2}
    assert third.changes == ["manifest of dataset voc-mini"]
    assert third.replaced_note().startswith("2 vectors, 2 scores in the store came from older code or settings")
