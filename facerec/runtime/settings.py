"""Compute settings shared by every model: device, backend, CPU threads.

Nothing here imports torch unless a choice needs it (a CUDA device, a thread cap for torch): a
process that runs its networks on ONNX Runtime never pays torch's second of import time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np

from facerec.errors import DeviceError

Backend = Literal["auto", "onnx", "torch"]
BACKENDS = ("auto", "onnx", "torch")

# A network as the models see it: N x C x H x W float32 -> its outputs, on ONNX Runtime or torch
# (facerec.runtime.onnx_backend.OnnxNetwork, facerec.runtime.torch_backend.TorchNetwork).
Network = Callable[[np.ndarray], tuple[np.ndarray, ...]]


def resolve_device(name: object = "cpu") -> str:
    """``cpu`` or ``cuda[:N]``; asking for CUDA where there is none is an error, not a silent fallback."""
    text = str(name)
    kind, colon, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (colon and (kind == "cpu" or not index.isdigit())):
        raise DeviceError(f"unknown device {text!r}; use 'cpu' or 'cuda'")
    if kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise DeviceError("device 'cuda' was asked for, but no CUDA GPU is available (use --device cpu)")
    return text


def resolve_backend(backend: str, device: str, *, torch_only: str | None = None) -> str:
    """The backend that runs a model's networks: ``onnx`` (ONNX Runtime) or ``torch``.

    ``auto`` takes ONNX Runtime on the CPU, where it measured faster (FaceNet: 28 vs 51 ms for two
    faces on 2 cores) and spares the torch import, and torch on a GPU. ``torch_only`` names a
    requested feature only torch has (bf16, the eager network), which decides for torch."""
    if backend not in BACKENDS:
        raise DeviceError(f"unknown backend {backend!r}; use {', '.join(BACKENDS)}")
    if backend == "onnx" and device != "cpu":
        raise DeviceError(f"the onnx backend runs on the CPU; use --backend torch for {device}")
    if backend == "onnx" and torch_only:
        raise DeviceError(f"{torch_only} needs the torch backend")
    if backend == "auto":
        return "onnx" if device == "cpu" and not torch_only else "torch"
    return backend


def resolve(device: object, backend: str, threads: int | None, *, torch_only: str | None = None) -> tuple[str, str]:
    """A model's compute settings checked at once: (device, backend); see the functions above."""
    device = resolve_device(device)
    check_threads(threads)
    return device, resolve_backend(backend, device, torch_only=torch_only)


def set_threads(threads: int | None) -> None:
    """Cap CPU threads for OpenCV, and for torch if it is loaded (None keeps their defaults).
    The models take the same number when they open their networks (ONNX Runtime sessions are
    per model; torch, if a model loads it later, is capped then)."""
    check_threads(threads)
    if threads is None:
        return
    import cv2

    cv2.setNumThreads(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_threads(threads: int | None) -> None:
    if threads is not None and threads < 1:
        raise DeviceError(f"--threads must be at least 1, got {threads}")


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numpy's BLAS (gallery scoring) in the calling thread only.

    OpenBLAS worker threads spin for about 0.1 s after each matrix product; on a small machine they
    then compete with the network threads of the next photo: warm identify measured 190 ms with
    them and 88 ms without. The products here are small, so one thread loses nothing."""
    with _blas_controller().limit(limits=1):  # BLAS and OpenMP (faiss) alike
        yield
