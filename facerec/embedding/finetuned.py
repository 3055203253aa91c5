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
    """Linear projection of the backbone's unit 512-d vectors, then L2 normalisation.

    With an ``input_centre`` (the base model's centre), the head projects the vectors the base
    model is used with, ``unit(x - centre)`` (space.centred), not the network's raw ones: the
    direction every face shares is gone before the projection spends dimensions on it. Heads
    saved before there was a centre have an empty one and read the raw vectors."""

    input_centre: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, dimension: int, inputs: int = BACKBONE_SIZE, input_centre: torch.Tensor | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(inputs, dimension)
        centre = torch.zeros(0) if input_centre is None else torch.as_tensor(input_centre, dtype=torch.float32)
        self.register_buffer("input_centre", centre.reshape(-1).clone())

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the projection sees of the backbone's unit vectors ``x``."""
        return F.normalize(x - self.input_centre, p=2, dim=1) if self.input_centre.numel() else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(self.inputs(x)), p=2, dim=1)


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
    state = dict(checkpoint["head"])
    head = EmbeddingHead(int(checkpoint["dimension"]), input_centre=state.setdefault("input_centre", torch.zeros(0)))
    head.load_state_dict(state)
    return head.eval().requires_grad_(False)
