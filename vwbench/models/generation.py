"""Text-to-image generation with a diffusers Stable Diffusion pipeline.

Loss (PROTOCOL.md 14.4): denoising MSE on the scheduler's native target (ε or v), uniform timesteps, VAE
latents times the scaling factor. The VAE posterior (mean, std) of every training image is computed once;
sampling a latent from it each step is the same draw `latent_dist.sample()` would make.
Outputs (PROTOCOL.md 14.5; vwbench/metrics/generation.py computes the metrics the task names): generate N images per
word with fixed seeds; a separate CLIP evaluator classifies each among the dataset's concept names ("a photo of a
{name}"); the default headline, generation accuracy, is the fraction labelled as the target.
Where the evaluator has no words for the concepts (the micro-world's, by construction), `classes: prototypes`
classifies each image by its nearest concept prototype instead: the mean evaluator feature of the concept's
training images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vwbench.data.types import ConceptDataset
from vwbench.models.base import TaskModel, chunked, sample_indices


class CLIPEvaluator:
    """Labelling of generated images by a CLIP (a family with `evaluator` set: transformers CLIPModel, open_clip
    CLIP): zero-shot by class names, or by prototypes."""

    def __init__(self, loaded, template: str, device, classes: str = "names"):
        self.model, self.processor, self.template, self.device = loaded.model, loaded.processor, template, device
        self.classes = classes
        self.family = loaded.impl

    @torch.no_grad()
    def image_features(self, images) -> torch.Tensor:
        dtype = next(self.model.parameters()).dtype

        def encode(s):
            pixels = self.family.pixels(self.processor, images[s]).to(self.device, dtype)
            return F.normalize(self.family.encode_image(self.model, pixels).float(), dim=-1)

        return chunked(encode, len(images), 64)

    @torch.no_grad()
    def text_features(self, texts: list[str]) -> torch.Tensor:
        ids = self.family.tokenizer().encode(texts, 77, 0).to(self.device)
        feats = self.family.encode_text(self.model, ids)
        return F.normalize(feats.float(), dim=-1)

    @torch.no_grad()
    def class_features(self, data: ConceptDataset) -> torch.Tensor:
        """One unit vector per concept of the dataset: its name's text feature, or its image prototype."""
        if self.classes == "prototypes":
            protos = [self.image_features([e.image() for e in data.train[c]]).mean(0) for c in data.concepts]
            return F.normalize(torch.stack(protos), dim=-1)
        return self.text_features([self.template.format(data.names[c]) for c in data.concepts])

    def classify(self, images, classes: torch.Tensor) -> torch.Tensor:
        """The index of the nearest class feature for each image."""
        return (self.image_features(images) @ classes.T).argmax(-1).cpu()


class SafetyScreen:
    """Stable Diffusion's safety checker (diffusers StableDiffusionSafetyChecker with its CLIP image processor)
    run on generated images: it only flags them; the images are scored as generated."""

    def __init__(self, loaded, device):
        self.model, self.processor, self.device = loaded.model, loaded.processor, device

    @torch.no_grad()
    def flags(self, images) -> list[bool]:
        import numpy as np

        dtype = next(self.model.parameters()).dtype
        pixels = self.processor(images=images, return_tensors="pt").pixel_values.to(self.device, dtype)
        arrays = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255 for im in images])
        _, nsfw = self.model(clip_input=pixels, images=arrays)  # it blanks flagged images in `arrays` only
        return [bool(x) for x in nsfw]


class GenerationModel(TaskModel):
    task = "generation"

    def __init__(
        self, spec, loaded, device, evaluator: CLIPEvaluator | None = None, safety: SafetyScreen | None = None
    ):
        self.pipe = loaded.model
        self.safety = safety
        super().__init__(spec, loaded, device)
        from diffusers import DDPMScheduler
        from diffusers.image_processor import VaeImageProcessor

        self.noise_scheduler = DDPMScheduler.from_config(self.pipe.scheduler.config)
        self.prediction_type = spec.loss.get("prediction_type", "auto")
        if self.prediction_type == "auto":
            self.prediction_type = self.noise_scheduler.config.prediction_type
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.pipe.vae_scale_factor)
        self.evaluator = evaluator
        self._generated: dict[str, list] = {}

    @classmethod
    def build(cls, spec, loaded, device, load=None):
        """The adapter with its CLIP evaluator and, when the run turns it on, the safety screen (loaded by `load`,
        zoo.load's signature)."""
        from vwbench.errors import VWBenchError
        from vwbench.spec import ModelRef

        ev = spec.evaluator or {}
        if not ev:
            raise VWBenchError(f"{spec.source}: generation tasks need an evaluator")
        dtype = getattr(torch, spec.dtype.get(torch.device(device).type, "float32"))  # the task model's
        ev_ref = ModelRef(**ev["model"])
        ev_size = spec.image_size if ev_ref.is_builtin else 224
        ev_loaded = load(ev["family"], ev_ref, device, dtype, ev_size)
        if not ev_loaded.impl.evaluator:
            raise VWBenchError(f"{spec.source}: evaluator.family {ev['family']!r} cannot label images")
        loaded.provenance["evaluator"] = ev_loaded.provenance
        screen = None
        if spec.safety and spec.safety_checker:  # off by default: `vwbench run --safety-checker`
            sc_ref = ModelRef(spec.safety_checker["id"], spec.safety_checker.get("revision"))
            sc_loaded = load("sd_safety_checker", sc_ref, device, dtype, spec.image_size if sc_ref.is_builtin else 224)
            loaded.provenance["safety_checker"] = sc_loaded.provenance
            screen = SafetyScreen(sc_loaded, device)
        return cls(
            spec, loaded, device, CLIPEvaluator(ev_loaded, ev["template"], device, ev.get("classes", "names")), screen
        )

    def text_features(self, ids):
        return self.family.encode_text(self.model, ids)

    def _prepare(self, data: ConceptDataset) -> dict:
        size, vae = self.spec.image_size, self.pipe.vae
        posts = {}
        for c in data.concepts:
            pixels = self.image_processor.preprocess(
                [e.image() for e in data.train[c]], height=size, width=size, resize_mode="crop"
            ).to(self.device, self.dtype)
            dist = vae.encode(pixels).latent_dist
            posts[c] = (dist.mean.float(), dist.std.float())
        return {"train": posts}

    def rows_per_trial(self, batch_size: int) -> int:
        return batch_size

    def draw(self, concepts, data_name, generators, batch_size) -> dict:
        posts = self.cache(data_name)["train"]
        sched, scale = self.noise_scheduler, self.pipe.vae.config.scaling_factor
        noisy, targets, steps = [], [], []
        for c, g in zip(concepts, generators):
            mean, std = posts[c]
            idx = sample_indices(len(mean), batch_size, g)
            eps_latent = torch.randn(mean[idx].shape, generator=g).to(self.device)
            latents = (mean[idx] + std[idx] * eps_latent) * scale
            t = torch.randint(0, sched.config.num_train_timesteps, (batch_size,), generator=g).to(self.device)
            noise = torch.randn(latents.shape, generator=g).to(self.device)
            noisy.append(sched.add_noise(latents, noise, t))
            targets.append(noise if self.prediction_type == "epsilon" else sched.get_velocity(latents, noise, t))
            steps.append(t)
        return {
            "noisy": torch.cat(noisy),
            "targets": torch.cat(targets),
            "steps": torch.cat(steps),
            "batch_size": batch_size,
        }

    def loss(self, vectors, placeholder_ids, concepts, data_name, generators, batch_size):
        d = self.draw(concepts, data_name, generators, batch_size)
        hidden = self.encode_with_vectors(vectors, placeholder_ids).repeat_interleave(batch_size, 0)
        pred = self.pipe.unet(d["noisy"].to(self.dtype), d["steps"], hidden).sample.float()
        err = (pred - d["targets"]) ** 2
        return err.reshape(len(concepts), -1).mean(1)

    def row_losses(self, vectors, placeholder_ids, drawn, rows):
        # a trial's loss is the mean over its batch_size rows: each row contributes its own mean / batch_size
        per = drawn["batch_size"]
        rows = torch.as_tensor(rows, dtype=torch.long)
        words, owner = torch.unique(rows // per, return_inverse=True)
        hidden = self.encode_with_vectors(vectors[words], [placeholder_ids[int(k)] for k in words])[
            owner.to(self.device)
        ]
        dev_rows = rows.to(drawn["noisy"].device)
        pred = self.pipe.unet(drawn["noisy"][dev_rows].to(self.dtype), drawn["steps"][dev_rows], hidden).sample.float()
        err = (pred - drawn["targets"][dev_rows]) ** 2
        return err.reshape(len(rows), -1).mean(1) / per

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        # the UNet holds nearly all activations (96x96 latents at SD 2.1's size); diffusers checkpoints it in
        # eval mode. The text encoder is not checkpointed: transformers does so only in training mode (which
        # would switch dropout on), and its activations are a few MB per prompt.
        unet = self.pipe.unet
        if enabled:
            unet.enable_gradient_checkpointing()
        elif unet.is_gradient_checkpointing:
            unet.disable_gradient_checkpointing()

    @torch.no_grad()
    def generate(self, vectors, placeholder_ids) -> list[list]:
        """N images per word with fixed seeds (image i of every word uses seed + i). The images depend on the
        vector alone (the placeholder's own embedding is replaced), so a vector generated before, for another
        concept or another control, is not generated again."""
        from vwbench.fingerprint import tensor_digest

        m = self.spec.metric
        n, seed, chunk = int(m.get("images_per_trial", 8)), int(m.get("seed", 0)), int(m.get("batch_size", 16))
        keys = [tensor_digest(v) for v in vectors]
        new = [i for i, k in enumerate(keys) if k not in self._generated and keys.index(k) == i]
        if new:
            hidden = self.encode_with_vectors(vectors[new], [placeholder_ids[i] for i in new]).repeat_interleave(n, 0)
            seeds = [seed + i for _ in new for i in range(n)]
            images = chunked(
                lambda s: (
                    self.pipe(
                        prompt_embeds=hidden[s].to(self.dtype),
                        num_inference_steps=int(m.get("inference_steps", 50)),
                        guidance_scale=float(m.get("guidance_scale", 7.5)),
                        height=self.spec.image_size,
                        width=self.spec.image_size,
                        generator=[torch.Generator().manual_seed(x) for x in seeds[s]],
                        output_type="pil",
                    ).images
                ),
                len(seeds),
                chunk,
            )
            if len(self._generated) > 20000:  # bounded: a few KB a word
                self._generated.clear()
            for k, i in enumerate(new):
                self._generated[keys[i]] = images[k * n : (k + 1) * n]
        return [self._generated[k] for k in keys]

    def outputs(self, vectors, placeholder_ids, concepts, data):
        if self.evaluator is None:
            raise RuntimeError("generation metrics need the CLIP evaluator")
        classes = self.evaluator.class_features(data)
        out = []
        for concept, images in zip(concepts, self.generate(vectors, placeholder_ids)):
            info = {"n_images": len(images)}
            if self.safety is not None:
                info["safety_flags"] = sum(self.safety.flags(images))
            out.append(
                (
                    {
                        "labels": self.evaluator.classify(images, classes),
                        "target": data.concepts.index(concept),
                        "classes": len(data.concepts),
                    },
                    info,
                )
            )
        return out
