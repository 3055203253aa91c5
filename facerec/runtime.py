"""Compute settings shared by every model: which device, how many CPU threads."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch

from facerec.errors import DeviceError


def resolve_device(name: str | torch.device = "cpu") -> torch.device:
    """``cpu`` or ``cuda[:N]``; asking for CUDA where there is none is an error, not a silent fallback."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}; use 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' was asked for, but no CUDA GPU is available (use --device cpu)")
    if device.type not in ("cpu", "cuda"):
        raise DeviceError(f"unsupported device {name!r}; use 'cpu' or 'cuda'")
    return device


def set_threads(threads: int | None) -> None:
    """Cap CPU threads for torch and OpenCV (None keeps their defaults)."""
    if threads is None:
        return
    if threads < 1:
        raise DeviceError(f"--threads must be at least 1, got {threads}")
    import cv2

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


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
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield
