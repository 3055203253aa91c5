"""Triplet losses with online mining over a batch of unit vectors (pure tensor functions).

Distances are squared L2 between unit vectors, ``2 - 2 cos``, as in the FaceNet paper, and the
loss of a triplet is ``max(0, d(a, p) - d(a, n) + margin)``.

- semi-hard (FaceNet, Schroff et al. 2015): every anchor-positive pair, with the closest negative
  that is still farther than the positive; where there is none, the farthest negative.
- batch-hard (Hermans et al. 2017): every anchor, with its farthest positive and closest negative.

Both return (mean loss over the triplets, fraction of triplets with a non-zero loss).
"""

from __future__ import annotations

import torch


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    return (2 - 2 * embeddings @ embeddings.T).clamp_min(0)


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def semi_hard(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> tuple[torch.Tensor, float]:
    d = squared_distances(embeddings)
    positive, negative = _masks(labels)
    anchors, positives = positive.nonzero(as_tuple=True)
    if len(anchors) == 0:
        return embeddings.sum() * 0, 0.0
    d_ap = d[anchors, positives]  # one row per anchor-positive pair
    d_an = d[anchors]  # that anchor's distances to everyone
    valid = negative[anchors]
    farther = valid & (d_an > d_ap[:, None])
    inf = torch.finfo(d.dtype).max
    closest_farther = torch.where(farther, d_an, torch.full_like(d_an, inf)).min(dim=1).values
    farthest = torch.where(valid, d_an, torch.full_like(d_an, -inf)).max(dim=1).values
    d_neg = torch.where(farther.any(dim=1), closest_farther, farthest)
    losses = (d_ap - d_neg + margin).clamp_min(0)
    has_negative = valid.any(dim=1)
    losses = losses[has_negative]
    if len(losses) == 0:
        return embeddings.sum() * 0, 0.0
    return losses.mean(), float((losses > 0).float().mean())


def batch_hard(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> tuple[torch.Tensor, float]:
    d = squared_distances(embeddings)
    positive, negative = _masks(labels)
    usable = positive.any(dim=1) & negative.any(dim=1)
    if not usable.any():
        return embeddings.sum() * 0, 0.0
    inf = torch.finfo(d.dtype).max
    hardest_positive = torch.where(positive, d, torch.full_like(d, -inf)).max(dim=1).values
    hardest_negative = torch.where(negative, d, torch.full_like(d, inf)).min(dim=1).values
    losses = (hardest_positive - hardest_negative + margin).clamp_min(0)[usable]
    return losses.mean(), float((losses > 0).float().mean())


MINING = {"semi-hard": semi_hard, "batch-hard": batch_hard}
