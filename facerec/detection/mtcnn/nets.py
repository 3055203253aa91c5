"""P-Net, R-Net and O-Net of the MTCNN cascade (Zhang et al., 2016).

Layer names follow facenet-pytorch 2.6.0 so its published state dicts load with ``strict=True``.
Files are found and checked by :mod:`facerec.runtime.weights`; :func:`load` reads them.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import BinaryIO, cast

import torch
from torch import nn

from facerec.runtime import weights
from facerec.runtime.torch_backend import BlockedPReLU


class PNet(nn.Module):
    """Proposal network: fully convolutional, one 12x12 window per output cell (stride 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (box regression N x 4 x H x W, face probability N x H x W)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)[:, 1]


class RNet(nn.Module):
    """Refinement network on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (box regression N x 4, face probability N)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The converted Caffe weights expect the features flattened in (W, H, C) order.
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)[:, 1]


class ONet(nn.Module):
    """Output network on 48x48 crops: box, probability and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (box regression N x 4, landmarks N x 10 as x1..x5 then y1..y5, probability N)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)[:, 1]


NETS = {"pnet": PNet, "rnet": RNet, "onet": ONet}

# For the ONNX export: an example input shape, each output with its dynamic axes, the input's.
_BATCH = {0: "batch"}
EXPORTS = {
    "pnet": (
        (1, 3, 61, 83),
        {"regression": {0: "batch", 2: "height", 3: "width"}, "probability": {0: "batch", 1: "height", 2: "width"}},
        {0: "batch", 2: "height", 3: "width"},
    ),
    "rnet": ((2, 3, 24, 24), {"regression": _BATCH, "probability": _BATCH}, _BATCH),
    "onet": ((2, 3, 48, 48), {"regression": _BATCH, "landmarks": _BATCH, "probability": _BATCH}, _BATCH),
}


@functools.cache
def load(role: str, path: str) -> nn.Module:
    """One network with the weights in ``path``, loaded once per process (CPU, inference mode)."""
    net = NETS[role]()
    net.load_state_dict(weights.load_state_dict(Path(path)))
    return net.eval().requires_grad_(False)


# Feature maps whose channels are no multiple of ONNX Runtime's block (16 with AVX-512, 8 with
# AVX2): (convolution, its activation, the next convolution, channels to pad to). R-Net's 28
# channels made its first max-pooling leave the blocked layout and come back (13% of R-Net's time);
# padded to 32, R-Net on 40 crops measured 2.28 -> 2.08 ms with the same bits out. The blocked
# kernels pad to 32 in any case, so the padding adds no arithmetic. P-Net's 10 channels padded to
# 16 measured no faster (and not bit for bit the same), so they stay.
PADDED = {"rnet": ("conv1", "prelu1", "conv2", 32)}


def _pad_channels(net: nn.Module, conv: str, activation: str, following: str, channels: int) -> None:
    """Give ``conv`` zero filters up to ``channels`` outputs, which ``following`` ignores (zero
    weights): the extra channels are 0 through the activation and pooling, so nothing changes."""
    first, prelu, second = (getattr(net, name) for name in (conv, activation, following))
    wider = nn.Conv2d(first.in_channels, channels, first.kernel_size, first.stride, first.padding)
    after = nn.Conv2d(channels, second.out_channels, second.kernel_size, second.stride, second.padding)
    wider_bias, after_bias = cast(torch.Tensor, wider.bias), cast(torch.Tensor, after.bias)  # made with bias=True
    with torch.no_grad():
        for layer in (wider, after):
            layer.weight.zero_()
        wider_bias.zero_()
        wider.weight[: first.out_channels] = first.weight
        wider_bias[: first.out_channels] = first.bias
        after.weight[:, : first.out_channels] = second.weight
        after_bias.copy_(second.bias)
    extra = channels - first.out_channels
    for name, fill in (("slope", 0.0), ("zeros", 0.0), ("ones", 1.0)):
        setattr(prelu, name, torch.cat([getattr(prelu, name), torch.full((extra,), fill)]))
    setattr(net, conv, wider)
    setattr(net, following, after)


def for_onnx(net: nn.Module, role: str | None = None) -> nn.Module:
    """A copy of ``net`` with every PReLU as :class:`BlockedPReLU` and the channels of ``role``
    padded (see PADDED), for export."""
    net = copy.deepcopy(net)
    for name, module in list(net.named_children()):
        if isinstance(module, nn.PReLU):
            setattr(net, name, BlockedPReLU(module))
    if role in PADDED:
        _pad_channels(net, *PADDED[role])
    return net


def export_onnx(role: str, path: str, out: BinaryIO) -> None:
    from facerec.runtime.torch_backend import export_onnx

    example, outputs, dynamic_input = EXPORTS[role]
    net = load(role, path)
    export_onnx(for_onnx(net, role), out, example, outputs, dynamic_input, reference=net)
