"""Boxes derived by a detector, for datasets that ship none (DreamBooth). The paper ran a pretrained OWL-v2 with
the subject's name as the prompt and checked each box by hand (PROTOCOL.md 4.1); vwbench runs the detection
task's OWLv2 with the concept's class name and keeps the highest-scoring box (each DreamBooth image shows one
subject). Boxes made this way are recorded as unchecked in the manifest; a reviewed boxes file is preferable.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

OWL_CONTEXT = 16  # OWLv2 text length including start and end tokens


def owlv2_box_fn(loaded, device="cpu", threshold: float = 0.1, max_boxes: int = 1) -> Callable:
    """`box_fn(image, query) -> (boxes, scores)` from a `vwbench.models.zoo.Loaded` OWLv2 bundle: the
    `max_boxes` highest-scoring boxes with score >= `threshold`, absolute `xyxy` on `image`."""
    import torch

    from vwbench.tokenizer import encode

    model, processor = loaded.model, loaded.processor
    dtype = next(model.parameters()).dtype

    def box_fn(image: Image.Image, query: str):
        ids = encode([query], context_length=OWL_CONTEXT).to(device)
        mask = torch.zeros_like(ids)
        length = int((ids != 0).sum())
        mask[0, :length] = 1
        pixels = processor(images=image, return_tensors="pt")["pixel_values"].to(device=device, dtype=dtype)
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask, pixel_values=pixels)
        w, h = image.size
        res = processor.post_process_object_detection(out, threshold=-1.0, target_sizes=[(h, w)])[0]
        scores, boxes = res["scores"].float().cpu(), res["boxes"].float().cpu()
        order = torch.argsort(scores, descending=True)[:max_boxes]
        keep = [int(i) for i in order if float(scores[i]) >= threshold]
        return [boxes[i].tolist() for i in keep], [float(scores[i]) for i in keep]

    return box_fn


def owlv2_from_task(task, device: str | None = None, threshold: float = 0.1) -> tuple[Callable, dict]:
    """The box function of a detection task spec's model, and what to record about it in the manifest."""
    import torch

    from vwbench.models import zoo

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, task.dtype.get("cuda" if str(device).startswith("cuda") else "cpu", "float32"))
    loaded = zoo.load("owlv2", task.model, device=device, dtype=dtype, image_size=task.image_size)
    info = {
        "source": "owlv2",
        "task": task.name,
        "model": task.model.id,
        "revision": task.model.revision,
        "query": "concept name",
        "threshold": threshold,
        "max_boxes": 1,
        "checked_by_hand": False,
    }
    return owlv2_box_fn(loaded, device=device, threshold=threshold), info
