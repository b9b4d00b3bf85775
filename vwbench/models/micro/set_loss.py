"""DETR-style set-prediction loss of the micro OWLv2's training (vwbench/models/micro/owlv2.py): each image's regions
are matched one-to-one to its ground-truth objects by the Hungarian algorithm (scipy's linear_sum_assignment) on a
cost of focal class probability, L1 and generalized IoU; matched regions learn their box, every region learns a
sigmoid focal class loss against all queries. `hp` holds the weights and focal parameters (owlv2.TRAIN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hungarian(cost: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum-cost one-to-one assignment of rows (regions) to columns (objects): (row indices, column indices)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.detach().cpu().numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def _focal_parts(logits, alpha, gamma):
    p = logits.sigmoid()
    pos = alpha * (1 - p) ** gamma * F.softplus(-logits)
    neg = (1 - alpha) * p**gamma * F.softplus(logits)
    return pos, neg


def match_cost(
    logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_query: torch.Tensor, hp: dict
) -> torch.Tensor:
    """Matching cost [P, n] of one image: focal class cost of each object's own query, L1 and −GIoU of boxes."""
    from torchvision.ops import generalized_box_iou

    pos, neg = _focal_parts(logits[:, gt_query], hp["focal_alpha"], hp["focal_gamma"])
    l1 = torch.cdist(boxes, gt_boxes, p=1)
    giou = generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(gt_boxes))
    return hp["w_class"] * (pos - neg) + hp["w_l1"] * l1 - hp["w_giou"] * giou


def set_prediction_loss(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    objectness: torch.Tensor | None,
    gt_boxes: list[torch.Tensor],
    gt_query: list[torch.Tensor],
    gt_positive: list[torch.Tensor] | None,
    hp: dict,
) -> tuple[torch.Tensor, dict]:
    """DETR loss of a batch. logits [B, P, Q], boxes [B, P, 4] cxcywh, objectness [B, P] or None;
    per image: gt_boxes [n, 4] cxcywh, gt_query [n] (each object's own query) and gt_positive [n, Q] (the queries
    that describe each object; one-hot of gt_query when None). Returns (loss, parts incl. the matches)."""
    from torchvision.ops import generalized_box_iou, sigmoid_focal_loss

    target = torch.zeros_like(logits)
    obj_target = torch.zeros(boxes.shape[:2])
    matches = []
    with torch.no_grad():
        for b in range(len(gt_boxes)):
            if len(gt_boxes[b]) == 0:
                matches.append((torch.zeros(0, dtype=torch.long),) * 2)
                continue
            rows, cols = hungarian(match_cost(logits[b].float(), boxes[b].float(), gt_boxes[b], gt_query[b], hp))
            matches.append((rows, cols))
            pos = gt_positive[b] if gt_positive is not None else F.one_hot(gt_query[b], logits.shape[-1]).bool()
            target[b, rows] = pos[cols].to(target.dtype)
            obj_target[b, rows] = 1.0
    n = max(1, sum(len(g) for g in gt_boxes))
    cls = sigmoid_focal_loss(logits, target, hp["focal_alpha"], hp["focal_gamma"], reduction="sum") / n
    pred = torch.cat([boxes[b, r] for b, (r, _) in enumerate(matches)])
    gt = torch.cat([gt_boxes[b][c] for b, (_, c) in enumerate(matches)]).to(pred)
    l1 = (pred - gt).abs().sum() / n
    giou = (1 - torch.diag(generalized_box_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(gt)))).sum() / n
    loss = hp["w_class"] * cls + hp["w_l1"] * l1 + hp["w_giou"] * giou
    parts = {"class": cls.item(), "l1": l1.item(), "giou": giou.item(), "matches": matches}
    if objectness is not None:
        obj = (
            sigmoid_focal_loss(
                objectness, obj_target.to(objectness), hp["focal_alpha"], hp["focal_gamma"], reduction="sum"
            )
            / n
        )
        loss = loss + hp["w_objectness"] * obj
        parts["objectness"] = obj.item()
    return loss, parts
