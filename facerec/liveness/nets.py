"""MiniFASNetV2 and MiniFASNetV1SE: the two small liveness CNNs of minivision-ai's
Silent-Face-Anti-Spoofing (Apache-2.0), as our own modules whose state dicts load its files.

Each is a pruned MobileFaceNet: a 3x3 stem, depthwise-separable blocks (1x1 expand, 3x3
depthwise, 1x1 project), residual stages, a depthwise 5x5 "global" convolution for 80x80 inputs,
then a 128-d embedding and 3 logits (0 print, 1 real, 2 replay). V1SE adds squeeze-excitation to
the last block of each residual stage. The channel counts are the vendor's pruning result, so they
are data (:data:`WIDTHS`), not a rule. Attribute names follow the vendor's, so their checkpoint
keys load as they are, once :func:`checkpoint_filter` has taken off ``nn.DataParallel``'s prefix.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from facerec.errors import WeightsError
from facerec.runtime import weights

# The 49 channel counts of each architecture, in the order its layers consume them.
WIDTHS = {
    "MiniFASNetV1SE": (32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231, 231, 128,
                       154, 154, 128, 52, 52, 128, 26, 26, 128, 52, 52, 128, 26, 26, 128, 26, 26, 128, 308, 308,
                       128, 26, 26, 128, 26, 26, 128, 512, 512),
    "MiniFASNetV2": (32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231, 231, 128,
                     231, 231, 128, 52, 52, 128, 26, 26, 128, 77, 77, 128, 26, 26, 128, 26, 26, 128, 308, 308,
                     128, 26, 26, 128, 26, 26, 128, 512, 512),
}  # fmt: skip
INPUT = 80  # pixels, square
GLOBAL_KERNEL = ((INPUT + 15) // 16,) * 2  # the last depthwise convolution spans the 5x5 map
EMBEDDING = 128
CLASSES = 3
REAL = 1  # the logit of a real face; 0 and 2 are attacks


class ConvBlock(nn.Module):
    """Convolution (no bias), batch norm, and PReLU unless ``linear``."""

    def __init__(self, inputs: int, outputs: int, kernel=1, stride=1, padding=0, groups=1, linear=False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inputs, outputs, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(outputs)
        if not linear:
            self.prelu: nn.Module = nn.PReLU(outputs)  # for_onnx respells it as BlockedPReLU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if hasattr(self, "prelu") else x


class SqueezeExcite(nn.Module):
    """Channel attention: global average, 1x1 down by ``reduction`` and up, sigmoid, scale."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels // reduction)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.relu(self.bn1(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(self.bn2(self.fc2(weight)))


class Separable(nn.Module):
    """1x1 expansion, 3x3 depthwise (stride 1 or 2), 1x1 projection; a residual sum when the
    shapes allow it, with squeeze-excitation on the branch when ``excite``."""

    def __init__(self, inputs: int, expanded: int, outputs: int, stride: int, residual: bool, excite: bool) -> None:
        super().__init__()
        self.conv = ConvBlock(inputs, expanded)
        self.conv_dw = ConvBlock(expanded, expanded, 3, stride, 1, groups=expanded)
        self.project = ConvBlock(expanded, outputs, linear=True)
        self.residual = residual
        if excite:
            self.se_module = SqueezeExcite(outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.project(self.conv_dw(self.conv(x)))
        if not self.residual:
            return branch
        if hasattr(self, "se_module"):
            branch = self.se_module(branch)
        return x + branch


class Stage(nn.Module):
    """Residual separable blocks at one resolution (the last with squeeze-excitation in V1SE)."""

    def __init__(self, widths: list[int], excite: bool) -> None:
        super().__init__()
        blocks = len(widths) // 3
        self.model = nn.Sequential(
            *(
                Separable(widths[3 * i], widths[3 * i + 1], widths[3 * i + 3], 1, True, excite and i == blocks - 1)
                for i in range(blocks)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    """80x80 BGR crop, 0-255 floats -> 3 logits (see :data:`REAL`)."""

    def __init__(self, architecture: str) -> None:
        super().__init__()
        w = WIDTHS[architecture]
        excite = architecture.endswith("SE")
        self.conv1 = ConvBlock(3, w[0], 3, 2, 1)
        self.conv2_dw = ConvBlock(w[0], w[1], 3, 1, 1, groups=w[1])
        self.conv_23 = Separable(w[1], w[3], w[4], 2, False, False)
        self.conv_3 = Stage(list(w[4:17]), excite)  # 4 blocks
        self.conv_34 = Separable(w[16], w[18], w[19], 2, False, False)
        self.conv_4 = Stage(list(w[19:38]), excite)  # 6 blocks
        self.conv_45 = Separable(w[37], w[39], w[40], 2, False, False)
        self.conv_5 = Stage(list(w[40:47]), excite)  # 2 blocks
        self.conv_6_sep = ConvBlock(w[46], w[47])
        self.conv_6_dw = ConvBlock(w[47], w[48], GLOBAL_KERNEL, groups=w[48], linear=True)
        self.linear = nn.Linear(w[48], EMBEDDING, bias=False)
        self.bn = nn.BatchNorm1d(EMBEDDING)
        self.prob = nn.Linear(EMBEDDING, CLASSES, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4):
            x = stage(x)
        for stage in (self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):
            x = stage(x)
        return self.prob(self.bn(self.linear(x.flatten(1))))


def checkpoint_filter(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The vendor's files were saved from ``nn.DataParallel``: every key starts with ``module.``.
    Take that off; anything else that does not fit is left for ``load_state_dict(strict=True)``."""
    return {key.removeprefix("module."): value for key, value in state.items()}


@functools.cache
def load(architecture: str, path: str) -> MiniFASNet:
    """One network with the weights in ``path``, loaded once per process (CPU, inference mode)."""
    network = MiniFASNet(architecture)
    try:
        network.load_state_dict(checkpoint_filter(weights.load_state_dict(Path(path))), strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path} is not a {architecture} checkpoint facerec can load: {exc}") from None
    return network.eval().requires_grad_(False)


def for_onnx(network: nn.Module) -> nn.Module:
    """A copy with every PReLU of a feature map as the MTCNN graphs spell it (BlockedPReLU: the
    same numbers, and ONNX Runtime keeps its blocked layout around them)."""
    from facerec.runtime.torch_backend import BlockedPReLU

    network = copy.deepcopy(network)
    for module in list(network.modules()):
        prelu = getattr(module, "prelu", None)
        if isinstance(module, ConvBlock) and isinstance(prelu, nn.PReLU):
            module.prelu = BlockedPReLU(prelu)
    return network


def export_onnx(architecture: str, path: str, out: BinaryIO) -> None:
    from facerec.runtime.torch_backend import export_onnx

    network = load(architecture, path)
    batch = {0: "batch"}
    export_onnx(for_onnx(network), out, (2, 3, INPUT, INPUT), {"logits": batch}, batch, reference=network)
