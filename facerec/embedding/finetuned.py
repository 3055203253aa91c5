"""Fine-tuned model files: what ``facerec train`` writes and every command loads with ``--model FILE``.

One self-describing file (``torch.save`` of plain data and tensors, loadable with
``weights_only=True``): the base model it was trained from (name and sha256), the output
dimension, which part was trained, the preprocessing, the validated threshold, a summary of the
training data and run, the projection head, and the backbone parameters that training changed
(none for ``--train head``, so a head-only model is a few hundred kB on top of the base weights).

The model's name is the file's stem plus the start of its sha256, so the same file has the same
name from any directory, and the identity store can tell its embeddings from any other model's.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from facerec.files import write_atomically
from facerec.runtime import weights

FORMAT = weights.FINETUNED_FORMAT
VERSION = 1
BACKBONE_SIZE = 512


class EmbeddingHead(nn.Module):
    """Linear projection of the backbone's unit 512-d vectors, then L2 normalisation."""

    def __init__(self, dimension: int, inputs: int = BACKBONE_SIZE) -> None:
        super().__init__()
        self.linear = nn.Linear(inputs, dimension)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(x), p=2, dim=1)


class WithHead(nn.Module):
    """Backbone (N x 3 x 160 x 160 -> unit 512-d) followed by a head (-> unit D-d)."""

    def __init__(self, backbone: nn.Module, head: EmbeddingHead) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def is_finetuned(checkpoint: dict) -> bool:
    return checkpoint.get("format") == FORMAT


def save(path: Path, *, head: EmbeddingHead, backbone: dict[str, torch.Tensor], meta: dict) -> None:
    """Write a model file atomically (temporary name, then rename): a crash never leaves half a model."""
    document = dict(meta) | {
        "format": FORMAT,
        "version": VERSION,
        "dimension": int(head.linear.out_features),
        "head": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
        "backbone": {k: v.detach().cpu().clone() for k, v in backbone.items()},
    }
    write_atomically(Path(path), lambda temporary: torch.save(document, temporary))


def head_from(checkpoint: dict) -> EmbeddingHead:
    head = EmbeddingHead(int(checkpoint["dimension"]))
    head.load_state_dict(checkpoint["head"])
    return head.eval().requires_grad_(False)
