"""The tiny model zoo: each tiny model is the real class, builds offline, runs a forward pass, is frozen and
deterministic; hub models that are not available give a ModelNotAvailable that says how to provide them."""

from __future__ import annotations

import socket

import pytest
import torch

from vwbench.errors import ModelNotAvailable, VWBenchError
from vwbench.models import zoo
from vwbench.spec import ModelRef, SpecLibrary
from vwbench.tokenizer import EOS_ID, encode

TINY = {  # family -> (tiny id, task spec whose image size it is built at)
    "stable_diffusion": ("tiny:sd", "tiny-generation"),
    "owlv2": ("tiny:owlv2", "tiny-detection"),
    "open_clip": ("tiny:open_clip", "tiny-classification"),
    "hf_clip": ("tiny:clip-evaluator", None),
}


def _image_size(family: str) -> int:
    task = TINY[family][1]
    return SpecLibrary().task(task).image_size if task else 32


def _build(family: str) -> zoo.Loaded:
    return zoo.load(family, ModelRef(TINY[family][0], None), image_size=_image_size(family))


@pytest.fixture(scope="module")
def built() -> dict[str, zoo.Loaded]:
    return {}


@pytest.fixture(scope="module")
def tiny(built):
    def get(family: str) -> zoo.Loaded:
        if family not in built:
            built[family] = _build(family)
        return built[family]

    return get


def _modules(loaded: zoo.Loaded) -> dict[str, torch.nn.Module]:
    m = loaded.model
    if isinstance(m, torch.nn.Module):
        return {"model": m}
    return {"unet": m.unet, "vae": m.vae, "text_encoder": m.text_encoder}


def _features(out) -> torch.Tensor:
    """transformers 4.x returns a tensor from get_*_features, 5.x a ModelOutput with the projection as pooler_output."""
    return out if torch.is_tensor(out) else out.pooler_output


def test_tiny_specs_use_the_tiny_ids():
    lib = SpecLibrary()
    for family, (tiny_id, task) in TINY.items():
        if task:
            assert (lib.task(task).family, lib.task(task).model.id) == (family, tiny_id)
    assert lib.task("tiny-generation").evaluator["model"]["id"] == TINY["hf_clip"][0]


def test_stable_diffusion_generates(tiny):
    from diffusers import StableDiffusionPipeline

    pipe = tiny("stable_diffusion").model
    assert isinstance(pipe, StableDiffusionPipeline)
    assert pipe.tokenizer.model_max_length == 77 and len(pipe.tokenizer) == 49408
    assert pipe.scheduler.config.prediction_type == "v_prediction"  # as SD 2.1 at 768
    size = _image_size("stable_diffusion")

    def generate():
        return pipe(
            "a photo of a cat",
            num_inference_steps=2,
            height=size,
            width=size,
            output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).images

    images = generate()
    assert images.shape == (1, size, size, 3)
    assert (images >= 0).all() and (images <= 1).all()
    assert (generate() == images).all(), "a fixed seed gives the same image"


def test_owlv2_forward(tiny):
    from transformers import Owlv2ForObjectDetection

    loaded = tiny("owlv2")
    model, size = loaded.model, _image_size("owlv2")
    assert isinstance(model, Owlv2ForObjectDetection)
    assert model.config.text_config.max_position_embeddings == 16
    assert model.config.projection_dim == model.config.text_config.hidden_size
    ids = encode(["cat", "a photo of a dog"], context_length=16)
    assert ids.shape == (2, 16)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=(ids != 0).long(), pixel_values=torch.rand(1, 3, size, size))
    patches = (size // model.config.vision_config.patch_size) ** 2
    assert out.logits.shape == (1, patches, 2)
    assert out.pred_boxes.shape == (1, patches, 4)
    assert torch.isfinite(out.logits).all() and ((out.pred_boxes >= 0) & (out.pred_boxes <= 1)).all()
    assert loaded.processor is not None


def test_region_scores_are_the_detectors_own_logits(tiny):
    """The adapter scores a word's regions from the text-independent parts it caches once per image; they must be
    what Owlv2ForObjectDetection itself computes for that query, and the zero query its logit shift alone."""
    from PIL import Image

    from vwbench.models.detection import region_logits
    from vwbench.models.families.owlv2 import OWLv2

    loaded = tiny("owlv2")
    model, size = loaded.model, _image_size("owlv2")
    image = Image.fromarray(
        (torch.rand(size, size, 3, generator=torch.Generator().manual_seed(1)) * 255).byte().numpy()
    )
    ids = encode(["a photo of a dog"], context_length=16)
    with torch.no_grad():
        regions = OWLv2().regions(model, loaded.processor, image, "cpu", torch.float32)
        pixels = loaded.processor(images=image, return_tensors="pt").pixel_values
        out = model(input_ids=ids, attention_mask=(ids != 0).long(), pixel_values=pixels)
        query = torch.nn.functional.normalize(out.text_embeds[0, 0], dim=-1)
        head = model.class_head
        feats = out.image_embeds.reshape(1, -1, out.image_embeds.shape[-1])
        zero = (head.logit_shift(feats) * (head.elu(head.logit_scale(feats)) + 1))[0, :, 0]
    torch.testing.assert_close(region_logits(regions, query), out.logits[0, :, 0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(region_logits(regions, None), zero, atol=1e-5, rtol=1e-5)


def test_open_clip_forward(tiny):
    import open_clip

    loaded = tiny("open_clip")
    model, size = loaded.model, _image_size("open_clip")
    assert isinstance(model, open_clip.model.CLIP)
    assert model.token_embedding.num_embeddings == 49408
    with torch.no_grad():
        text = model.encode_text(encode(["a photo of a cat", "a photo of a dog"]))
        image = model.encode_image(torch.rand(3, 3, size, size))
    assert text.shape == (2, model.text_projection.shape[1]) and image.shape == (3, text.shape[1])
    assert not torch.allclose(text[0], text[1])
    assert loaded.processor is not None


def test_clip_evaluator_forward(tiny):
    from transformers import CLIPModel

    model = tiny("hf_clip").model
    assert isinstance(model, CLIPModel)
    ids = encode(["a photo of a cat", "a photo of a dog"])
    pixels = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        text = _features(model.get_text_features(input_ids=ids))
        image = _features(model.get_image_features(pixel_values=pixels))
        full = model(input_ids=ids, pixel_values=pixels)
    assert text.shape == (2, model.config.projection_dim) and image.shape == (3, model.config.projection_dim)
    # the features are the projected embeddings the full forward compares
    torch.testing.assert_close(torch.nn.functional.normalize(text, dim=-1), full.text_embeds)
    torch.testing.assert_close(torch.nn.functional.normalize(image, dim=-1), full.image_embeds)
    # padding with 0 (< EOS) keeps end-of-text pooling on the EOS position
    assert model.config.text_config.eos_token_id == EOS_ID


@pytest.mark.parametrize("family", TINY)
def test_tiny_models_are_frozen(tiny, family):
    for name, module in _modules(tiny(family)).items():
        params = list(module.parameters())
        assert params, name
        assert not any(p.requires_grad for p in params), name
        assert not module.training, name
        assert all(p.dtype == torch.float32 for p in params), name


@pytest.mark.parametrize("family", TINY)
def test_tiny_models_are_deterministic(tiny, family):
    first = _modules(tiny(family))
    torch.manual_seed(12345)  # the global RNG must not matter ...
    state = torch.get_rng_state()
    second = _modules(_build(family))
    assert torch.equal(torch.get_rng_state(), state)  # ... and is left untouched
    for name in first:
        a, b = first[name].state_dict(), second[name].state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key}"


def test_tiny_text_widths_differ(tiny):
    """Transfer maps between the tiny models are not square identities."""
    sd = tiny("stable_diffusion").model.text_encoder.get_input_embeddings().weight
    oc = tiny("open_clip").model.token_embedding.weight
    assert sd.shape[0] == oc.shape[0] == 49408 and sd.shape[1] != oc.shape[1]


@pytest.mark.parametrize(
    "family,bad", [("owlv2", "tiny:nope"), ("hf_clip", "tiny:sd"), ("stable_diffusion", "tiny:owlv2")]
)
def test_unknown_tiny_id_raises(family, bad):
    with pytest.raises(VWBenchError, match="unknown tiny model") as info:
        zoo.load(family, ModelRef(bad, None))
    assert TINY[family][0] in str(info.value)  # names what is known


def test_unknown_family_raises():
    with pytest.raises(VWBenchError, match="unknown model family"):
        zoo.load("yolo", ModelRef("someone/model", "0" * 40))


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tmp_path


@pytest.mark.parametrize("family", ["owlv2", "hf_clip", "open_clip"])
def test_unavailable_hub_model(no_network, family):
    ref = ModelRef("vwbench-tests/not-a-real-model", "0123456789abcdef0123456789abcdef01234567")
    with pytest.raises(ModelNotAvailable) as info:
        zoo.load(family, ref)
    msg = str(info.value)
    assert ref.id in msg and ref.revision in msg
    assert f"hf download {ref.id} --revision {ref.revision}" in msg  # how to provide it
    assert str(no_network) in msg  # where the cache is looked for
    assert "local folder" in msg
