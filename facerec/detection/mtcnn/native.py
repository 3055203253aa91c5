"""facerec's C kernel for detection (``_facerec_mtcnn``, built from pnet.c, nms.c and crops.c by
hatch_build.py): finding it, and P-Net on it. boxes.nms and detector._crops call its other two
functions directly.

On photos with few faces P-Net is most of detection's time, and ONNX Runtime spends most of
P-Net's on passes over thin feature maps (activations, layout changes) rather than on its
convolutions. The kernel runs the whole network row by row with every map in the caches, reading
each pyramid level straight from the summed-area table, and releases the GIL: on the benchmark
machine (2 cores, AVX-512) a 1153 x 649 level took 25 against ONNX Runtime's 72 ms on one thread.
Its outputs are P-Net's within float32 rounding (tests compare it with ONNX Runtime and torch).

The kernel takes its weights packed into one float32 array (see pnet.c); they are derived from
the shipped ``pnet.pt`` once per machine, with torch, and cached like the ONNX graphs.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from facerec.detection.mtcnn import area
from facerec.files import write_atomically
from facerec.runtime import weights

log = logging.getLogger(__name__)

# The interface this module speaks (argument order, weight layout): pnet.c's KERNEL_VERSION.
KERNEL_VERSION = 4
# A band of a level's output rows is this tall at least: each band computes four pooled rows and
# two conv2 rows more than it outputs, about 2% of its work at 32 rows.
MIN_BAND_ROWS = 32

Maps = tuple[np.ndarray, np.ndarray]  # P-Net's regression (1 x 4 x h x w) and probability (1 x h x w)
Map = Callable[[Callable, Iterable], Iterator]


@functools.cache
def kernel() -> ModuleType | None:
    """The built kernel module, or None where it was not built (facerec then runs P-Net, NMS and
    crops on ONNX Runtime and numpy) or was built from another version of the C files than this
    module speaks to."""
    try:
        import _facerec_mtcnn
    except ImportError:
        return None
    if _facerec_mtcnn.KERNEL_VERSION != KERNEL_VERSION:
        log.warning(
            "the installed detection kernel is version %s, this facerec speaks version %s; reinstall facerec "
            "(pip install .) to use it. P-Net, NMS and crops run on ONNX Runtime and numpy meanwhile",
            _facerec_mtcnn.KERNEL_VERSION,
            KERNEL_VERSION,
        )
        return None
    return _facerec_mtcnn


def output_side(side: int) -> int:
    """P-Net output rows (or columns) for a level side (3x3 conv, 2x2 ceil pool, 3x3, 3x3), on
    any backend."""
    return -(-(side - 4) // 2) - 3


def pack(state: dict[str, np.ndarray]) -> np.ndarray:
    """P-Net's state dict (facenet-pytorch's names, numpy arrays) in the kernel's layout."""

    def vectors(values: np.ndarray, lanes: int) -> np.ndarray:
        out = np.zeros(values.shape[:-1] + (lanes,), np.float32)
        out[..., : values.shape[-1]] = values
        return out.reshape(-1)

    def conv(name: str, lanes: int) -> list[np.ndarray]:  # [ky][kx][ci][lanes]
        w = state[f"{name}.weight"]
        return [vectors(w.transpose(2, 3, 1, 0), lanes), vectors(state[f"{name}.bias"], lanes)]

    first = np.zeros(272, np.float32)
    first[:270] = state["conv1.weight"].reshape(-1)  # [c][ci][ky][kx], scalars for the planar layer
    heads = np.concatenate([state["conv4_1.weight"], state["conv4_2.weight"]])[:, :, 0, 0]  # 6 x 32
    parts = [
        first,
        vectors(state["conv1.bias"], 16),
        vectors(state["prelu1.weight"], 16),
        *conv("conv2", 16),
        vectors(state["prelu2.weight"], 16),
        *conv("conv3", 32),
        vectors(state["prelu3.weight"], 32),
        vectors(heads.T, 16),
        vectors(np.concatenate([state["conv4_1.bias"], state["conv4_2.bias"]]), 16),
    ]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _packed_from_file(path: Path) -> np.ndarray:
    state = weights.load_state_dict(path)
    return pack({name: tensor.detach().cpu().numpy().astype(np.float32) for name, tensor in state.items()})


def packed_weights(path: Path, sha256: str, size: int) -> np.ndarray:
    """The packed weights of the P-Net file at ``path``, from the cache, or made (torch) and cached."""
    cache = weights.user_cache_dir() / "kernels" / f"mtcnn-pnet-{sha256[:16]}-k{KERNEL_VERSION}.npy"
    try:
        packed = np.load(cache, allow_pickle=False)
        if packed.shape == (size,) and packed.dtype == np.float32:
            return packed
        log.warning("the cached %s has the wrong shape; packing the weights again", cache)
    except (OSError, ValueError):
        pass  # not cached yet (or damaged): made again below
    packed = _packed_from_file(path)
    if packed.shape != (size,):
        raise AssertionError(f"packed P-Net weights are {packed.shape}, the kernel takes {size}")

    def write(temporary: Path) -> None:
        with temporary.open("wb") as out:
            np.save(out, packed)

    try:
        write_atomically(cache, write)
    except OSError as exc:
        log.warning("cannot cache %s (%s); the next process packs the weights again", cache, exc)
    return packed


def bands(rows: int, parts: int) -> list[tuple[int, int]]:
    """Output rows [start, stop) of a level cut into at most ``parts`` bands of equal height, none
    under MIN_BAND_ROWS."""
    count = max(1, min(parts, rows // MIN_BAND_ROWS))
    edges = [round(k * rows / count) for k in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


class PNet:
    """P-Net over whole pyramids on the C kernel: ``maps(table, sizes, map)`` -> each level's maps."""

    def __init__(self, module: ModuleType, packed: np.ndarray, instruction_set: str | None = None) -> None:
        """``instruction_set``: one of the module's INSTRUCTION_SETS (the best by default)."""
        if instruction_set is not None and instruction_set not in module.INSTRUCTION_SETS:
            raise ValueError(f"this machine runs the kernel's {module.INSTRUCTION_SETS}, not {instruction_set}")
        self._pnet = module.pnet
        self.weights = packed
        self.instruction_set = instruction_set or module.INSTRUCTION_SET

    @classmethod
    def load(cls, instruction_set: str | None = None) -> PNet | None:
        """The manifest's P-Net on the kernel, or None where the kernel is not built."""
        module = kernel()
        if module is None:
            return None
        spec = weights.model_files("mtcnn")["pnet"]
        return cls(module, packed_weights(weights.locate(spec), spec.sha256, module.PNET_WEIGHTS), instruction_set)

    def maps(self, table: np.ndarray, sizes: Sequence[tuple[int, int]], map: Map = map, workers: int = 1) -> list[Maps]:
        """P-Net's maps of the levels of these sizes (height, width) of the image behind the
        summed-area ``table`` (int32).

        The levels are cut into bands of rows (a large level into about twice as many bands as
        ``workers``, so that it does not run alone at the end), and the bands run through ``map``,
        the largest first."""
        if table.dtype != np.int32:
            raise ValueError(f"the kernel reads int32 summed-area tables, not {table.dtype}")
        table = np.ascontiguousarray(table)
        total = sum(h * w for h, w in sizes)
        outputs, work = [], []
        for height, width in sizes:
            rows, columns = output_side(height), output_side(width)
            reg = np.empty((1, 4, rows, columns), np.float32)
            prob = np.empty((1, rows, columns), np.float32)
            outputs.append((reg, prob))
            ys0, ys1 = area.bins(table.shape[0] - 1, height)
            xs0, xs1 = area.bins(table.shape[1] - 1, width)
            parts = math.ceil(2 * workers * height * width / total) if workers > 1 else 1
            for start, stop in bands(rows, parts):
                arguments = (
                    table,
                    table.shape[1],
                    ys0,
                    ys1,
                    xs0,
                    xs1,
                    self.weights,
                    start,
                    stop,
                    reg,
                    prob,
                    self.instruction_set,
                )
                work.append(((stop - start) * columns, arguments))
        work.sort(key=lambda item: -item[0])
        for _ in map(lambda arguments: self._pnet(*arguments), [arguments for _, arguments in work]):
            pass
        return outputs
