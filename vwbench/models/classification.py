"""Zero-shot classification with a CLIP (open_clip's DFN CLIP ViT-L/14 in the paper; any family with an image tower).

Loss (PROTOCOL.md 14.7): cosine between the word's text feature and image features, weighted −1 for images of
the target concept and +1 for images of the dataset's other concepts, a mean over each group. Image features are
computed once per dataset; since the loss is linear in the normalized text feature, a batch reduces to the
mean feature of its positives and of its negatives.
Outputs (vwbench/metrics/classification.py computes the metrics the task names, docs/metrics.md): the word's cosine
similarity to every held-out image of the dataset, and the class each image picks among the concepts' names with
the target's replaced by the word. The default headline is the AUROC of the similarity, target-concept images
against the others: a word that fires for every image ranks nothing and gets 0.5, and averaged over a dataset's
concepts any fixed vector gets exactly 0.5 on balanced test sets. The paper's 10-way zero-shot accuracy and the
false-positive rate on the other concepts' images are its secondaries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vwbench.data.types import ConceptDataset
from vwbench.models.base import TaskModel, chunked, sample_indices


def encode_text(model, ids: torch.Tensor) -> torch.Tensor:
    """open_clip's `CLIP.encode_text` for ids of any length up to the context: it adds all 77 positional rows,
    so a shorter (trimmed) prompt takes only its own. Equal on prompts, since the tower is causal and end-pooled.
    (The open_clip family's text features; here, beside the kind, since the micro-zoo trainers use it too.)"""
    if ids.shape[1] == model.context_length:
        return model.encode_text(ids)
    from open_clip.model import text_global_pool

    n = ids.shape[1]
    x = model.token_embedding(ids).to(model.transformer.get_cast_dtype()) + model.positional_embedding[:n]
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:n, :n]))
    x = text_global_pool(x, ids, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    return model.text_projection(x) if isinstance(model.text_projection, torch.nn.Linear) else x @ model.text_projection


class ClassificationModel(TaskModel):
    task = "classification"
    trim_prompts = True

    def text_features(self, ids):
        return F.normalize(self.family.encode_text(self.model, ids).float(), dim=-1)

    def image_features(self, images) -> torch.Tensor:
        def encode(s):
            pixels = self.family.pixels(self.loaded.processor, images[s]).to(self.device, self.dtype)
            return F.normalize(self.family.encode_image(self.model, pixels).float(), dim=-1)

        return chunked(encode, len(images), 32)

    def _prepare(self, data: ConceptDataset) -> dict:
        cache = {}
        for split in ("train", "test"):
            examples = getattr(data, split)
            cache[split] = {c: self.image_features([e.image() for e in examples[c]]) for c in data.concepts}
        return cache

    def draw(self, concepts, data_name, generators, batch_size) -> dict:
        feats = self.cache(data_name)["train"]
        pos_means, neg_means = [], []
        for concept, gen in zip(concepts, generators):
            pos = feats[concept]
            neg = torch.cat([f for c, f in feats.items() if c != concept])
            pos_means.append(pos[sample_indices(len(pos), batch_size, gen)].mean(0))
            neg_means.append(neg[sample_indices(len(neg), batch_size, gen)].mean(0))
        return {"pos": torch.stack(pos_means), "neg": torch.stack(neg_means)}

    def _weighted(self, text, pos, neg):
        w_target = float(self.spec.loss.get("target_weight", -1.0))
        w_other = float(self.spec.loss.get("other_weight", 1.0))
        return w_target * (text * pos).sum(-1) + w_other * (text * neg).sum(-1)

    def loss(self, vectors, placeholder_ids, concepts, data_name, generators, batch_size):
        d = self.draw(concepts, data_name, generators, batch_size)
        return self._weighted(self.encode_with_vectors(vectors, placeholder_ids), d["pos"], d["neg"])

    def row_losses(self, vectors, placeholder_ids, drawn, rows):
        rows = torch.as_tensor(rows, dtype=torch.long)
        text = self.encode_with_vectors(vectors[rows], [placeholder_ids[int(k)] for k in rows])
        r = rows.to(drawn["pos"].device)
        return self._weighted(text, drawn["pos"][r], drawn["neg"][r])

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        self.family.set_gradient_checkpointing(self.model, enabled)

    def outputs(self, vectors, placeholder_ids, concepts, data):
        self.prepare(data)
        test = self.cache(data.name)["test"]
        images = torch.cat([test[c] for c in data.concepts])
        labels = torch.cat([torch.full((len(test[c]),), i) for i, c in enumerate(data.concepts)])
        names = self.encode_texts([self.spec.template.format(data.names[c]) for c in data.concepts])
        learned = self.encode_with_vectors(vectors, placeholder_ids)
        out = []
        for k, concept in enumerate(concepts):
            target = data.concepts.index(concept)
            classes = names.clone()
            classes[target] = learned[k]
            n_target = int((labels == target).sum())
            out.append(
                (
                    {
                        "similarity": images @ learned[k],
                        "labels": labels,
                        "target": target,
                        "choice": (images @ classes.T).argmax(-1).cpu(),
                        "classes": len(data.concepts),
                    },
                    {"n_images": n_target, "n_negatives": len(labels) - n_target},
                )
            )
        return out
