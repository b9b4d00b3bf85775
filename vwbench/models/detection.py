"""Open-vocabulary detection with transformers' OWLv2 (the family gives its text tower and image regions).

Boxes, objectness and region class embeddings do not depend on the text (PROTOCOL.md 15), so they are computed
once per image. Loss (PROTOCOL.md 14.6): regions whose predicted box has IoU >= 0.5 with a target box are
positives (else the best region of each target box), the rest negatives; loss = −mean cos(positives) +
mean cos(negatives). That is linear in the normalized query, so each image reduces to one weighted region sum.
Outputs (vwbench/metrics/detection.py computes the metrics the task names, docs/metrics.md): the learned word as
the only query, its top-scored region boxes on held-out images of the concept plus, by default, every held-out image
of the dataset's other concepts (`metric.negatives_per_positive: all`), beside the same of the zero query (objectness
alone, the text-independent part of OWLv2's logits). The default headline is torchmetrics' AP at IoU 0.5, with the
zero query's as its chance, and COCO AP 0.5:0.95 beside it. With one negative image per positive, a query that
fires on every object earned most of the metric; against all other concepts it must rank the target's objects above
the other concepts' objects.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from vwbench.data.types import ConceptDataset, Example
from vwbench.models.base import TaskModel, sample_indices


def region_weights(boxes: torch.Tensor, targets: torch.Tensor, iou: float) -> torch.Tensor:
    """Per-region loss weights [P]: −1/n_pos on positives, +1/n_neg on negatives."""
    pos = torch.zeros(len(boxes), dtype=torch.bool)
    if len(targets):
        overlap = box_iou(boxes, targets)
        pos = (overlap >= iou).any(1)
        if not pos.any():
            pos[overlap.argmax(0)] = True
    w = torch.zeros(len(boxes))
    if pos.any():
        w[pos] = -1.0 / pos.sum()
    if (~pos).any():
        w[~pos] = 1.0 / (~pos).sum()
    return w


def region_logits(regions: dict, query: torch.Tensor | None) -> torch.Tensor:
    """OWLv2's class logit of every region of `regions` (normalized `embeds` [P, d], `shift`, `scale` [P]) for one
    unit text query: (cos + shift) · scale. The zero query (None) leaves the text-independent part, shift · scale."""
    sim = 0.0 if query is None else regions["embeds"] @ query
    return (sim + regions["shift"]) * regions["scale"]


def region_scores(regions: dict, query: torch.Tensor | None) -> torch.Tensor:
    """A region's score for the query, as the detector ranks it: sigmoid of `region_logits`."""
    return torch.sigmoid(region_logits(regions, query))


class DetectionModel(TaskModel):
    task = "detection"
    trim_prompts = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._zero: dict[tuple, dict] = {}

    def text_features(self, ids):
        return F.normalize(self.family.encode_text(self.model, ids).float(), dim=-1)

    def regions(self, image) -> dict:
        """Text-independent outputs for one image: normalized class embeddings, logit shift/scale, absolute boxes."""
        return self.family.regions(self.model, self.loaded.processor, image, self.device, self.dtype)

    def _prepare(self, data: ConceptDataset) -> dict:
        iou = float(self.spec.loss.get("positive_iou", 0.5))
        train = {}
        for c in data.concepts:
            sums = []
            for e in data.train[c]:
                r = self.regions(e.image())
                w = region_weights(r["boxes"], torch.tensor(e.target_boxes(c)).reshape(-1, 4), iou)
                sums.append(w.to(r["embeds"]) @ r["embeds"])
            train[c] = torch.stack(sums)
        test = {e.key: self.regions(e.image()) for e in data.all_test()}
        return {"train": train, "test": test}

    def draw(self, concepts, data_name, generators, batch_size) -> dict:
        sums = self.cache(data_name)["train"]
        return {
            "batch": torch.stack(
                [sums[c][sample_indices(len(sums[c]), batch_size, g)].mean(0) for c, g in zip(concepts, generators)]
            )
        }

    def loss(self, vectors, placeholder_ids, concepts, data_name, generators, batch_size):
        batch = self.draw(concepts, data_name, generators, batch_size)["batch"]
        text = self.encode_with_vectors(vectors, placeholder_ids)
        return (text * batch).sum(-1)

    def row_losses(self, vectors, placeholder_ids, drawn, rows):
        rows = torch.as_tensor(rows, dtype=torch.long)
        text = self.encode_with_vectors(vectors[rows], [placeholder_ids[int(k)] for k in rows])
        return (text * drawn["batch"][rows.to(drawn["batch"].device)]).sum(-1)

    # set_gradient_checkpointing stays a no-op: the text tower (12 layers, width 512, 16 positions) keeps about a
    # megabyte of activations per word, and transformers checkpoints only in training mode

    def eval_images(self, concept: str, data: ConceptDataset) -> list[Example]:
        """Held-out images of the concept plus those of the other concepts: all of them, or `negatives_per_positive`
        times as many as there are positives (taken round-robin)."""
        pos = data.test[concept]
        pools = [data.test[c] for c in data.concepts if c != concept]
        neg = [pool[i] for i in range(max(map(len, pools), default=0)) for pool in pools if i < len(pool)]
        ratio = self.spec.metric.get("negatives_per_positive", "all")
        images = list(pos) + (neg if ratio == "all" else neg[: int(ratio) * len(pos)])
        # AP breaks ties between equal scores by image order: a fixed order unrelated to the labels keeps a
        # query that scores every object alike at chance (positives listed first would hand it AP 1)
        return sorted(images, key=lambda e: hashlib.blake2b(e.key.encode(), digest_size=8).digest())

    TOP = 100  # predictions kept per image, as torchmetrics' largest max_detection_threshold

    def predictions(self, images: list[Example], concept: str, data: ConceptDataset, scores_of) -> dict:
        """torchmetrics' inputs for one query: the top-scored region boxes of each image (`scores_of(r)` scoring
        one image's regions) and the concept's boxes."""
        test = self.cache(data.name)["test"]
        preds, targets = [], []
        for e in images:
            r = test[e.key]
            scores = scores_of(r).cpu()
            top = scores.argsort(descending=True)[: self.TOP]
            preds.append(
                {"boxes": r["boxes"][top], "scores": scores[top], "labels": torch.zeros(len(top), dtype=torch.long)}
            )
            gt = torch.tensor(e.target_boxes(concept), dtype=torch.float32).reshape(-1, 4)
            targets.append({"boxes": gt, "labels": torch.zeros(len(gt), dtype=torch.long)})
        return {"preds": preds, "targets": targets}

    def zero_query(self, concept: str, data: ConceptDataset, images: list[Example]) -> dict:
        """The predictions of a query that carries no concept information, the zero query: its logits are OWLv2's
        text-independent part alone, (0 + shift) · scale, i.e. objectness. Every query keeps that part, so no
        word is less informed than this; its AP50 is the chance level. Kept per (dataset, concept, images), so
        its AP is computed once."""
        key = (data.name, concept, tuple(e.key for e in images))
        if key not in self._zero:
            self._zero[key] = self.predictions(images, concept, data, lambda r: region_scores(r, None))
        return self._zero[key]

    def outputs(self, vectors, placeholder_ids, concepts, data):
        self.prepare(data)
        text = self.encode_with_vectors(vectors, placeholder_ids)
        out = []
        for k, concept in enumerate(concepts):
            images = self.eval_images(concept, data)
            word = self.predictions(images, concept, data, lambda r, q=text[k]: region_scores(r, q))
            out.append(({**word, "zero": self.zero_query(concept, data, images)}, {"n_images": len(images)}))
        return out
