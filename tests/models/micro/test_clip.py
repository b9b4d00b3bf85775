"""The micro CLIPs: the short-context text path equals open_clip's, and a tiny training round-trips."""

import torch

from vwbench.models.micro import clip
from vwbench.models.micro.training import caption_ids


def test_short_context_text_features_equal_open_clips_encode_text():
    model, _ = clip.build(clip.CONFIGS["clip"])
    model.eval()
    ids = caption_ids(["a photo of a red square", "a striped thing", ""])
    short = clip._features(model, torch.zeros(1, 3, 32, 32), ids)[1]
    assert torch.allclose(short, model.encode_text(ids), atol=1e-5)


def test_tiny_training_saves_and_loads_both_clips(tmp_path):
    from vwbench.models.micro.store import read_meta

    for name in ("clip", "clip-evaluator"):
        config = {**clip.CONFIGS[name], "steps": 3, "batch": 16, "pool": 64}
        report = clip.train(name, tmp_path, progress=False, config=config)
        assert report["steps"] == 3 and 0 <= report["zero_shot_top1"] <= 1
        model, proc = clip.load(name, tmp_path)
        meta = read_meta(name, tmp_path)
        assert len(meta["trained_ids"]) < 100 and model.token_embedding.weight.shape[0] == 49408
        trained = torch.tensor(meta["trained_ids"])
        assert {0, 49406, 49407} <= set(meta["trained_ids"])  # start, end and padding rows are stored too
        assert model.token_embedding.weight[trained].abs().sum() > 0
        assert proc is not None
