"""Networks on torch: the GPU and bf16 paths, training, and the source of the ONNX graphs."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from facerec.errors import WeightsError

OPSET = 17
EXPORT_TOLERANCE = 1e-4  # measured: P-Net 6e-7, R-Net 8e-7, O-Net 1e-7, FaceNet 1e-7 (float32 rounding)


class TorchNetwork:
    """A torch module as a function: N x C x H x W float32 numpy in, numpy outputs out (fp32)."""

    def __init__(
        self,
        module: torch.nn.Module,
        device: str = "cpu",
        *,
        threads: int | None = None,
        channels_last: bool = False,
        precision: str = "fp32",
    ) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.module = module
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.precision = precision

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        inputs = torch.from_numpy(np.asarray(batch, dtype=np.float32)).to(self.device)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if self.precision == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                outputs = self.module(inputs)
        else:
            outputs = self.module(inputs)
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return tuple(o.float().cpu().numpy() for o in outputs)


class BlockedPReLU(nn.Module):
    """PReLU spelled for ONNX Runtime's CPU kernels, bit for bit the same function.

    ONNX Runtime runs convolutions in a blocked channel layout (NCHWc) but has no PRelu kernel
    for it, so every PRelu of a graph moves its tensor out of that layout and back, and its own
    broadcasting kernel is slow: in P-Net, R-Net and O-Net the activations took longer than the
    convolutions. ReLU, additions and per-channel scalings (written as BatchNormalization, which
    it turns into a blocked depthwise convolution) all stay in the blocked layout; measured with
    one thread, R-Net on 159 crops 18.5 -> 11.5 ms, O-Net on 17 crops 12.3 -> 5.9 ms, P-Net on a
    384 x 288 level 14.2 -> 8.6 ms.

    With ``r = relu(x)``: ``m = x + (-1) * r`` is ``min(x, 0)`` exactly (one of the two terms is
    x and the other -x, or the second is 0), and ``r + slope * m`` is exact too, as one of its
    terms is always 0. Inputs that are not feature maps (after the dense layers) keep PRelu.
    """

    slope: torch.Tensor  # buffers, registered in __init__
    zeros: torch.Tensor
    ones: torch.Tensor

    def __init__(self, prelu: nn.PReLU) -> None:
        super().__init__()
        slope = prelu.weight.detach().clone()
        self.register_buffer("slope", slope)
        self.register_buffer("zeros", torch.zeros_like(slope))
        self.register_buffer("ones", torch.ones_like(slope))

    def _scale(self, x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        # mean 0, variance 1, epsilon 0: exactly factor * x
        return functional.batch_norm(x, self.zeros, self.ones, factor, self.zeros, training=False, eps=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            return functional.prelu(x, self.slope)
        r = torch.relu(x)
        return r + self._scale(x + self._scale(r, -self.ones), self.slope)


def export_onnx(
    module: torch.nn.Module,
    out: BinaryIO,
    example_shape: Sequence[int],
    outputs: dict[str, dict[int, str]],
    dynamic_input: dict[int, str],
    *,
    reference: torch.nn.Module | None = None,
) -> None:
    """Write ``module`` as an ONNX graph; ``outputs`` names each output with its dynamic axes.

    The graph is run once on ONNX Runtime against ``reference`` (by default the module itself;
    the network that ``module`` respells for export) before it is written: a graph that
    computes something else is refused here rather than found in the results."""
    example = torch.rand(tuple(example_shape), generator=torch.Generator().manual_seed(0)) * 2 - 1
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of torch.export, which needs onnxscript
        # and traces slower; for these fixed, branch-free networks the two give the same graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (example,),
            buffer,  # type: ignore[arg-type]  # torch's stub omits the file objects it writes to
            input_names=["input"],
            output_names=list(outputs),
            dynamic_axes={"input": dynamic_input} | outputs,
            opset_version=OPSET,
            dynamo=False,
        )
    expected = TorchNetwork(module if reference is None else reference)(example.numpy())
    from facerec.runtime.onnx_backend import OnnxNetwork

    graph = buffer.getvalue()  # FaceNet's is ~95 MB: one copy for the check and the write
    found = OnnxNetwork(graph, threads=1, shared=False)(example.numpy())
    worst = max(float(np.abs(a - b).max()) for a, b in zip(expected, found, strict=True))
    if worst > EXPORT_TOLERANCE:
        raise WeightsError(f"the ONNX export of {type(module).__name__} differs from torch by {worst:.2g}")
    out.write(graph)
