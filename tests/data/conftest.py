"""Fixtures of tests/data: tiny datasets in the official on-disk layouts and small specs for them (helpers in
vwdata_fixtures.py, a uniquely named module so it cannot clash with other test folders' conftest files)."""

from vwdata_fixtures import (  # noqa: F401 - pytest fixtures
    coco_root,
    coco_spec,
    dreambooth_spec,
    imagenet_spec,
    specs,
    voc_root,
    voc_spec,
)
