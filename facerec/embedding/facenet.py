"""FaceNet's Inception-ResNet-v1 (Szegedy et al. 2016; Schroff et al. 2015) as an nn.Module.

Parameter names and shapes follow facenet-pytorch 2.6.0's ``InceptionResnetV1(classify=False)``,
so its published weight files load with ``strict=True`` once :func:`checkpoint_filter` has
dropped their classifier. The module maps N x 3 x 160 x 160 standardised crops to N x 512 unit
vectors and knows nothing of files or images.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import BinaryIO

import torch
import torch.nn.functional as F
from torch import nn

from facerec.embedding import finetuned
from facerec.errors import WeightsError
from facerec.runtime import weights

EMBEDDING_SIZE = 512


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 0.001, as in the TensorFlow original), ReLU."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size, stride: int = 1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(out_planes, eps=0.001, momentum=0.1, affine=True)  # fast_network folds it
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class _Residual(nn.Module):
    """Inception-ResNet block: parallel branches, a 1x1 projection, scaled residual add."""

    scale: float
    activate: bool
    branch0: nn.Module  # the subclasses build the branches and the projection
    branch1: nn.Module
    branch2: nn.Module  # Block35 only
    conv2d: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch0(x), self.branch1(x)]
        if hasattr(self, "branch2"):
            branches.append(self.branch2(x))
        out = self.conv2d(torch.cat(branches, dim=1)) * self.scale + x
        return F.relu(out) if self.activate else out


class Block35(_Residual):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale, self.activate = scale, True
        self.branch0 = BasicConv2d(256, 32, 1)
        self.branch1 = nn.Sequential(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(
            BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1), BasicConv2d(32, 32, 3, padding=1)
        )
        self.conv2d = nn.Conv2d(96, 256, kernel_size=1)


class Block17(_Residual):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale, self.activate = scale, True
        self.branch0 = BasicConv2d(896, 128, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(896, 128, 1),
            BasicConv2d(128, 128, (1, 7), padding=(0, 3)),
            BasicConv2d(128, 128, (7, 1), padding=(3, 0)),
        )
        self.conv2d = nn.Conv2d(256, 896, kernel_size=1)


class Block8(_Residual):
    def __init__(self, scale: float = 1.0, activate: bool = True) -> None:
        super().__init__()
        self.scale, self.activate = scale, activate
        self.branch0 = BasicConv2d(1792, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(1792, 192, 1),
            BasicConv2d(192, 192, (1, 3), padding=(0, 1)),
            BasicConv2d(192, 192, (3, 1), padding=(1, 0)),
        )
        self.conv2d = nn.Conv2d(384, 1792, kernel_size=1)


class Mixed6a(nn.Module):
    """Reduction 35x35 -> 17x17."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(256, 384, 3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(256, 192, 1), BasicConv2d(192, 192, 3, padding=1), BasicConv2d(192, 256, 3, stride=2)
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], dim=1)


class Mixed7a(nn.Module):
    """Reduction 17x17 -> 8x8."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, stride=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, padding=1), BasicConv2d(256, 256, 3, stride=2)
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


class InceptionResnetV1(nn.Module):
    """Standardised 160x160 RGB crops -> L2-normalised embeddings (512-d)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.conv2d_4b = BasicConv2d(192, 256, 3, stride=2)
        self.repeat_1 = nn.Sequential(*(Block35(scale=0.17) for _ in range(5)))
        self.mixed_6a = Mixed6a()
        self.repeat_2 = nn.Sequential(*(Block17(scale=0.10) for _ in range(10)))
        self.mixed_7a = Mixed7a()
        self.repeat_3 = nn.Sequential(*(Block8(scale=0.20) for _ in range(5)))
        self.block8 = Block8(activate=False)
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.6)
        self.last_linear = nn.Linear(1792, EMBEDDING_SIZE, bias=False)
        self.last_bn = nn.BatchNorm1d(EMBEDDING_SIZE, eps=0.001, momentum=0.1, affine=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 1792-d pooled features before the embedding layer."""
        for layer in (
            self.conv2d_1a,
            self.conv2d_2a,
            self.conv2d_2b,
            self.maxpool_3a,
            self.conv2d_3b,
            self.conv2d_4a,
            self.conv2d_4b,
            self.repeat_1,
            self.mixed_6a,
            self.repeat_2,
            self.mixed_7a,
            self.repeat_3,
            self.block8,
            self.avgpool_1a,
        ):
            x = layer(x)
        return self.dropout(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.last_bn(self.last_linear(self.features(x))), p=2, dim=1)


def checkpoint_filter(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Adapt a facenet-pytorch checkpoint: drop the identity classifier (``logits.*``) it may carry.

    Anything else that does not fit is left for ``load_state_dict(strict=True)`` to refuse.
    """
    return {key: value for key, value in state.items() if not key.startswith("logits.")}


@functools.cache
def load(path: str, fused: bool = False, device: str = "cpu") -> torch.nn.Module:
    """The network of a weights file on a device, cached per process (Module.to moves in place,
    so each device has its own); ``fused`` gives the inference path (:func:`fast_network`) built
    on a fresh load, so the eager copy is never held as well. A fine-tuned model file is its base
    network with the parameters training changed, followed by its projection head."""
    checkpoint = weights.load_state_dict(Path(path))
    head = None
    if finetuned.is_finetuned(checkpoint):
        base = weights.model_spec(checkpoint["base_model"])
        state = checkpoint_filter(weights.load_state_dict(weights.locate(base.files["weights"])))
        state |= checkpoint["backbone"]
        head = finetuned.head_from(checkpoint)
    else:
        state = checkpoint_filter(checkpoint)
    network: nn.Module
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        network = InceptionResnetV1()
    try:
        network.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:  # wrong keys or shapes: not a FaceNet checkpoint in this layout
        raise WeightsError(f"{path} is not an Inception-ResNet-v1 checkpoint facerec can load: {exc}") from None
    network = network.eval().requires_grad_(False)
    network = fast_network(network, inplace=True) if fused else network
    if head is not None:
        network = finetuned.WithHead(network, head).eval()
    return network.to(device)


def fast_network(network: torch.nn.Module, *, inplace: bool = False) -> torch.nn.Module:
    """The inference path: batch norms folded into their convolutions, channels-last memory.

    Equal to the eager network within float rounding (tests hold it to 1e-5). Folding walks the
    modules directly: torch.fx tracing did the same but cost 0.6 s of every cold start.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    network = network if inplace else copy.deepcopy(network)
    for module in network.modules():
        if isinstance(module, BasicConv2d) and isinstance(module.bn, torch.nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = torch.nn.Identity()
    # torch's stub of Module.to omits memory_format, which it takes (and documents)
    return network.to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]


def export_onnx(path: str, out: BinaryIO) -> None:
    """The eager network of a weights file as an ONNX graph (ONNX Runtime folds the batch norms
    itself), for N x 3 x 160 x 160 standardised crops."""
    from facerec.runtime.torch_backend import export_onnx

    batch = {0: "batch"}
    export_onnx(load(path), out, (2, 3, 160, 160), {"embedding": batch}, batch)
