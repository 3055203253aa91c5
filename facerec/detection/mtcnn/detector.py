"""The MTCNN cascade: pyramid + P-Net proposals, R-Net refinement, O-Net output with landmarks.

Each stage is a plain function over arrays; :class:`MTCNN` only holds the networks and strings
the stages together. Steps and constants follow facenet-pytorch 2.6.0, our parity reference,
with two differences that change no result: resampling reads a summed-area table (see
:mod:`facerec.detection.mtcnn.area`), and the R-Net/O-Net crops of all images are made in one step.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, cast

import numpy as np

from facerec.detection.mtcnn import area, boxes, native
from facerec.errors import FacerecError
from facerec.images import ImageSource, load_image
from facerec.runtime import weights
from facerec.runtime.settings import Backend, Network, available_cpus, resolve
from facerec.types import Face


@dataclass(frozen=True)
class Workers:
    """How the cascade shares out independent work (levels, chunks of crops): ``map`` is the
    builtin one, or a thread pool's (results in order either way); ``count`` is how many run."""

    map: Callable[[Callable, Iterable], Iterator] = map
    count: int = 1


SERIAL = Workers()

SCALE_NMS = 0.5  # within one pyramid level
IMAGE_NMS = 0.7  # stage 1 across levels, and stage 2
OUTPUT_NMS = 0.7  # stage 3, intersection over the smaller box
# R-Net and O-Net see crops in chunks this big: the activations of a chunk stay in the CPU's
# caches, which measured about twice as fast as one batch of hundreds of crops.
CROP_CHUNK = 64
# On ONNX Runtime on the CPU, O-Net runs each chunk a few crops at a time, for the same reason at a
# smaller scale: its first feature maps are 270 KB a crop, so four crops' fit a core's L2 cache
# (1 MB on the benchmark machine) where 64 crops' (17 MB) do not. Its bits out are the same at any
# batch size (torch's are not). O-Net stage with two workers, median of 15 interleaved runs:
# 174 crops 45.7 -> 39.0 ms, 124 crops 42.0 -> 35.3 ms, 49 crops 13.6 -> 11.4 ms. R-Net (62 KB a
# crop) and torch's kernels gained nothing measurable, so they keep whole chunks.
CPU_ONET_BATCH = {"onnx": 4}


@dataclass(frozen=True)
class Strips:
    """P-Net runs over pyramid levels of more than ``pixels`` in horizontal strips of ``rows``
    output rows, for the reason of CROP_CHUNK: each layer's output for a strip stays in the cache for
    the next layer."""

    pixels: int
    rows: int


# Per backend on the CPU (a GPU wants whole levels). ONNX Runtime, against whole levels up to
# 400,000 pixels and 96-row strips above, measured with two workers (photos taking turns in one
# process): 1920x1080 117 -> 98 and 177 -> 150 ms, 1280x720 91 -> 78 ms, 640x480 25.3 -> 23.8 ms.
# Torch measured the other way round (640x480 55 against 60 ms, 1920x1080 221 against 241 ms).
CPU_STRIPS = {"onnx": Strips(50_000, 16), "torch": Strips(400_000, 96)}
# The levels of a photo without a table (see area.level) are made in strips of this many output
# rows on a GPU too, so that no level is held whole.
PHOTO_STRIP_ROWS = 96


@dataclass(frozen=True)
class DetectorConfig:
    """Detector settings; the defaults are the MTCNN paper's and facenet-pytorch's."""

    min_face_size: float = 20.0
    scale_factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)

    def __post_init__(self) -> None:
        if self.min_face_size < 1:
            raise FacerecError(f"min_face_size must be at least 1 pixel, got {self.min_face_size}")
        if not 0 < self.scale_factor < 1:
            raise FacerecError(f"scale_factor must be between 0 and 1, got {self.scale_factor}")
        if len(self.thresholds) != 3 or not all(0 <= t <= 1 for t in self.thresholds):
            raise FacerecError(f"thresholds must be three values in [0, 1], got {self.thresholds}")


@dataclass(frozen=True)
class _Image:
    """An image in the cascade: a summed-area table of it, or, past area.DETECT_MAX_PIXELS, the
    photo itself, from which levels and crops are made in parts (see area.level)."""

    height: int
    width: int
    table: np.ndarray | None  # summed-area table, see area.summed_area_table
    pixels: np.ndarray | None = None  # the photo (H x W x 3 uint8), where it has no table

    @classmethod
    def of(cls, pixels: np.ndarray, max_pixels: int | None = area.DETECT_MAX_PIXELS) -> _Image:
        """``pixels`` with a table where it has at most ``max_pixels`` (None: any size)."""
        height, width = pixels.shape[:2]
        if max_pixels is None or height * width <= max_pixels:
            return cls(height, width, area.summed_area_table(pixels))
        return cls(height, width, None, pixels)

    @property
    def source(self) -> np.ndarray:
        """What levels and crops are made from: the table, or the photo where it has none."""
        return self.table if self.table is not None else cast(np.ndarray, self.pixels)  # of() sets one

    def crops(self, windows: np.ndarray, size: int) -> np.ndarray:
        """The networks' input for these windows (see _crops)."""
        if self.table is None:
            return _normalise(area.window_crops(self.source, windows, size))
        return _crops(self.table, windows, size)


@dataclass(frozen=True)
class _Candidates:
    """Boxes in flight through the cascade, each tagged with the index of its image."""

    boxes: np.ndarray  # N x 4 float32
    scores: np.ndarray  # N
    image_ids: np.ndarray  # N int

    def take(self, index: np.ndarray) -> _Candidates:
        return _Candidates(self.boxes[index], self.scores[index], self.image_ids[index])


ROLES = ("pnet", "rnet", "onet")


def load_nets(
    backend: str = "onnx", device: str = "cpu", threads: int | None = None, roles: Sequence[str] = ROLES
) -> tuple[Network, ...]:
    """The networks of ``roles`` (P-Net, R-Net and O-Net by default) with the manifest's weights on
    a backend (each loaded once per process)."""
    files = weights.model_files("mtcnn")
    paths = {role: str(weights.locate(files[role])) for role in roles}
    if backend == "torch":
        from facerec.detection.mtcnn import nets
        from facerec.runtime.torch_backend import TorchNetwork

        modules = {role: nets.load(role, paths[role]) for role in roles}
        if device != "cpu":  # the cached CPU modules are shared; move copies
            modules = {role: copy.deepcopy(module).to(device) for role, module in modules.items()}
        # Channels-last: torch's kernels for these thin convolutions measured faster in that layout.
        return tuple(TorchNetwork(modules[role], device, threads=threads, channels_last=True) for role in roles)
    from facerec.runtime import onnx_backend

    return tuple(
        onnx_backend.open_network(
            f"mtcnn-{role}-{files[role].sha256[:16]}", functools.partial(_export, role, paths[role]), threads
        )
        for role in roles
    )


def _export(role: str, path: str, out: BinaryIO) -> None:
    from facerec.detection.mtcnn import nets  # torch: only when a graph is not cached yet

    nets.export_onnx(role, path, out)


def _normalise(pixels: np.ndarray) -> np.ndarray:
    """Channel-first float32 pixels in 0..255 -> the networks' [-1, 1], in place."""
    pixels -= np.float32(127.5)
    pixels *= np.float32(0.0078125)
    return pixels


def _pnet_forward(
    pnet: Network, level: Callable[[int, int], np.ndarray], height: int, width: int, strips: Strips | None
) -> tuple[np.ndarray, np.ndarray]:
    """P-Net over one height x width level, whose rows [a, b) ``level(a, b)`` gives (1 x 3 x
    (b - a) x width, normalised); with ``strips``, a large level goes in strips with the same
    result.

    Output row j sees input rows 2j .. 2j + 11, so a strip of output rows [a, b) needs input
    rows [2a, 2b + 10); strips start on even rows, so the 2x2 pooling grid is unchanged.
    """
    if strips is None or height * width <= strips.pixels:
        reg, prob = pnet(level(0, height))
        return reg, prob
    rows, columns = native.output_side(height), native.output_side(width)
    regs = np.empty((1, 4, rows, columns), np.float32)
    probs = np.empty((1, rows, columns), np.float32)
    for start in range(0, rows, strips.rows):
        stop = min(rows, start + strips.rows)
        reg, prob = pnet(level(2 * start, min(height, 2 * stop + 10)))
        regs[:, :, start:stop] = reg[:, :, : stop - start]
        probs[:, start:stop] = prob[:, : stop - start]
    return regs, probs


class NetworkPNet:
    """P-Net as a network on ONNX Runtime or torch, one pyramid level at a time: each level is
    resampled (area.resize), normalised and run whole or in ``strips`` (see _pnet_forward).
    :class:`facerec.detection.mtcnn.native.PNet` does the same in one C function."""

    def __init__(self, network: Network, strips: Strips | None = None) -> None:
        self.network = network
        self.strips = strips

    def maps(
        self, source: np.ndarray, sizes: Sequence[tuple[int, int]], map: Callable = map, workers: int = 1
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """P-Net's maps of the levels of these sizes of the image behind the summed-area table
        ``source``, or of the photo ``source`` itself (H x W x 3 uint8: see area.level), whose
        levels are made a strip at a time, never whole."""
        from_photo = source.dtype == np.uint8

        def level(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
            if from_photo:
                return _pnet_forward(
                    self.network,
                    lambda start, stop: _normalise(area.level(source, *size, (start, stop)))[None],
                    *size,
                    self.strips or Strips(0, PHOTO_STRIP_ROWS),
                )
            pixels = _normalise(area.resize(source, *size))[None]
            return _pnet_forward(self.network, lambda start, stop: pixels[:, :, start:stop], *size, self.strips)

        # In the pyramid's order, largest first: with two workers, the first level alone is about
        # half the work, so it must not start last.
        return list(map(level, sizes))


PNetRunner = NetworkPNet | native.PNet


def propose(
    pnet: PNetRunner, image: _Image, config: DetectorConfig, workers: Workers = SERIAL
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1: P-Net over every pyramid level; squared candidate boxes and their scores."""
    scales = boxes.pyramid_scales(image.height, image.width, config.min_face_size, config.scale_factor)
    if image.table is None:  # only the levels of a copy of DETECT_MAX_PIXELS (see area.py)
        largest = area.DETECT_MAX_PIXELS * (12.0 / config.min_face_size) ** 2
        scales = [s for s in scales if np.prod(boxes.scaled_size(image.height, image.width, s)) <= largest]
    if not scales:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    sizes = [boxes.scaled_size(image.height, image.width, scale) for scale in scales]
    maps = pnet.maps(image.source, sizes, workers.map, workers.count)

    def level(scale: float, reg: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found, scores, regs = boxes.pnet_candidates(reg[0], prob[0], scale, config.thresholds[0])
        keep = boxes.nms(found, scores, SCALE_NMS)
        return found[keep], scores[keep], regs[keep]

    levels = list(workers.map(level, scales, *zip(*maps, strict=True)))
    found, scores, regs = (np.concatenate(parts) for parts in zip(*levels, strict=True))
    keep = boxes.nms(found, scores, IMAGE_NMS)
    return boxes.square(boxes.regress_unit(found[keep], regs[keep])), scores[keep]


def _joined(outputs: Iterable[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """The outputs of several runs of a network over parts of a batch, as those of one run."""
    return [np.concatenate(parts) for parts in zip(*outputs, strict=True)]


def _crops(table: np.ndarray, windows: np.ndarray, size: int) -> np.ndarray:
    """The networks' input for these windows: area.crops, normalised; in facerec's C kernel where
    it is built (the same bits, a tenth of the time: see crops.c)."""
    module = native.kernel()
    if module is None or table.dtype != np.int32:  # a float64 table: a photo past int32's reach
        return _normalise(area.crops(table, windows, size))
    pixels = np.empty((len(windows), 3, size, size), np.float32)
    module.crops(table, table.shape[1], np.ascontiguousarray(windows, dtype=np.int64), size, pixels)
    return pixels


def _on_crops(
    net: Network,
    images: Sequence[_Image],
    candidates: _Candidates,
    size: int,
    workers: Workers = SERIAL,
    batch: int | None = None,
) -> tuple[_Candidates, list[np.ndarray]]:
    """Run a crop network on size x size crops of every candidate, dropping those wholly outside
    their image; the candidates kept and the network's outputs.

    The candidates go in chunks (at least one per worker), each cut out, resampled and run by
    its worker, so cutting out crops is shared among the workers too; with ``batch``, the
    network takes a chunk that many crops at a time (see CPU_ONET_BATCH)."""
    windows = np.zeros((len(candidates.boxes), 4), np.int64)
    for i, image in enumerate(images):
        mine = candidates.image_ids == i
        windows[mine] = boxes.crop_windows(candidates.boxes[mine], image.width, image.height)
    valid = np.nonzero((windows[:, 2] > windows[:, 0]) & (windows[:, 3] > windows[:, 1]))[0]
    candidates, windows = candidates.take(valid), windows[valid]
    if len(windows) == 0:
        return candidates, []
    # Equal chunks of at most CROP_CHUNK, a multiple of the workers in number: 159 candidates
    # on two workers go as 4 x 40, not 64 + 64 + 31 (a third round for one worker alone).
    rounds = -(-len(windows) // (workers.count * CROP_CHUNK))
    chunk = -(-len(windows) // (workers.count * rounds))

    def run(start: int) -> list[np.ndarray]:
        ids, part = candidates.image_ids[start : start + chunk], windows[start : start + chunk]
        pixels = np.empty((len(part), 3, size, size), dtype=np.float32)
        for i in np.unique(ids):
            mine = ids == i
            pixels[mine] = images[int(i)].crops(part[mine], size)
        step = batch or len(pixels)
        return _joined(net(pixels[first : first + step]) for first in range(0, len(pixels), step))

    return candidates, _joined(workers.map(run, range(0, len(windows), chunk)))


def refine(
    rnet: Network, images: Sequence[_Image], candidates: _Candidates, threshold: float, workers: Workers = SERIAL
) -> _Candidates:
    """Stage 2: R-Net rescoring and regression on 24x24 crops."""
    candidates, outputs = _on_crops(rnet, images, candidates, 24, workers)
    if not outputs:
        return candidates
    reg, prob = outputs
    passed = np.nonzero(prob > threshold)[0]
    candidates = _Candidates(candidates.boxes[passed], prob[passed], candidates.image_ids[passed])
    keep = boxes.batched_nms(candidates.boxes, candidates.scores, candidates.image_ids, IMAGE_NMS)
    candidates = candidates.take(keep)
    return _Candidates(
        boxes.square(boxes.regress(candidates.boxes, reg[passed][keep])), candidates.scores, candidates.image_ids
    )


def output(
    onet: Network,
    images: Sequence[_Image],
    candidates: _Candidates,
    threshold: float,
    workers: Workers = SERIAL,
    batch: int | None = None,
) -> tuple[_Candidates, np.ndarray]:
    """Stage 3: O-Net on 48x48 crops (``batch`` at a time, see _on_crops); final boxes, scores
    and landmarks (N x 5 x 2)."""
    candidates, outputs = _on_crops(onet, images, candidates, 48, workers, batch)
    if not outputs:
        return candidates, np.zeros((0, 5, 2), np.float32)
    reg, points, prob = outputs
    passed = np.nonzero(prob > threshold)[0]
    landmarks = boxes.landmarks_from_onet(candidates.boxes[passed], points[passed])
    candidates = _Candidates(
        boxes.regress(candidates.boxes[passed], reg[passed]), prob[passed], candidates.image_ids[passed]
    )
    keep = boxes.batched_nms(
        candidates.boxes,
        candidates.scores,
        candidates.image_ids,
        OUTPUT_NMS,
        mode="min",
        pixel_offset=1.0,
        ties="numpy",
    )
    return candidates.take(keep), landmarks[keep]


class MTCNN:
    """Finds every face in an image: box, confidence and five landmarks.

    >>> detector = MTCNN()
    >>> faces = detector.detect("group.jpg")            # list[Face], most confident first
    >>> per_image = detector.detect_batch([a, b, c])   # images may differ in size
    """

    def __init__(
        self,
        config: DetectorConfig | None = None,
        device: str = "cpu",
        *,
        backend: Backend = "auto",
        threads: int | None = None,
        native_pnet: bool = True,
        max_pixels: int | None = area.DETECT_MAX_PIXELS,
    ) -> None:
        """``native_pnet=False`` keeps P-Net on ONNX Runtime even where facerec's C kernel is built
        (see :mod:`facerec.detection.mtcnn.native`; it is used on the CPU with ONNX Runtime).
        ``max_pixels=None`` searches a photo of any size with every pyramid level and one table of
        it, facenet-pytorch's cascade to the letter, at a memory cost that grows with the photo
        (gigabytes past 30 MP); the default bounds it (see area.DETECT_MAX_PIXELS)."""
        self.config = config or DetectorConfig()
        self.max_pixels = max_pixels
        self.device, self.backend = resolve(device, backend, threads)
        self._workers = SERIAL
        on_cpu = self.device == "cpu"
        kernel = native.PNet.load() if native_pnet and self.backend == "onnx" and on_cpu else None
        roles = ROLES[1:] if kernel else ROLES
        if self.backend == "onnx":
            # Single-threaded networks, run side by side by a pool of workers: the cascade is many
            # small runs (ten pyramid levels, chunks of crops), which two intra-op threads split
            # badly (P-Net 17 ms on two threads, 12.5 ms as two one-thread workers).
            count = threads or available_cpus()
            if count > 1:
                self._workers = Workers(ThreadPoolExecutor(count, "mtcnn").map, count)
            nets = load_nets(self.backend, self.device, 1, roles)
        else:
            nets = load_nets(self.backend, self.device, threads, roles)
        if kernel:
            self.pnet: PNetRunner = kernel
            self.rnet, self.onet = nets
        else:
            pnet, self.rnet, self.onet = nets
            self.pnet = NetworkPNet(pnet, CPU_STRIPS[self.backend] if on_cpu else None)

    def _pnet_for(self, image: _Image) -> PNetRunner:
        """P-Net for this image: the C kernel reads only whole int32 tables, so a photo without
        one (past max_pixels, or past int32's reach with max_pixels=None) runs on ONNX Runtime."""
        if isinstance(self.pnet, NetworkPNet) or (image.table is not None and image.table.dtype == np.int32):
            return self.pnet
        (pnet,) = load_nets(self.backend, self.device, 1, ("pnet",))  # loaded once per process
        return NetworkPNet(pnet, CPU_STRIPS[self.backend])

    def detect(self, image: ImageSource) -> list[Face]:
        """Faces in one image (any input :func:`facerec.images.load_image` takes)."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[ImageSource]) -> list[list[Face]]:
        """Faces in each of several images. One image has its levels and crops shared among the
        workers; several images are shared out whole, one per worker at a time."""
        prepared = [_Image.of(load_image(image), self.max_pixels) for image in images]
        if self._workers.count == 1 or len(prepared) == 1:
            return self._cascade(prepared, self._workers)
        return [faces for (faces,) in self._workers.map(lambda image: self._cascade([image]), prepared)]

    def follow(
        self, image: ImageSource, predicted: Sequence[Sequence[float]], threshold: float = 0.5
    ) -> list[Face | None]:
        """The face at each of these boxes (a tracker's predictions), found by O-Net alone: its
        refined box, confidence and landmarks, or None where O-Net sees no face (below
        ``threshold``). Between two full detections of a video a face is followed rather than
        searched for: O-Net on one 48 px crop costs about half a millisecond where a whole
        1080p detection costs tens. Each box is squared, as R-Net's are before O-Net, and cut
        from a region of the image just around it."""
        pixels = load_image(image)
        height, width = pixels.shape[:2]
        squared = boxes.square(np.asarray(predicted, np.float32).reshape(-1, 4))
        images, shifted, offsets, ids = [], [], [], []
        for i, box in enumerate(squared):
            x1, y1 = max(int(np.floor(box[0])) - 1, 0), max(int(np.floor(box[1])) - 1, 0)
            x2, y2 = min(int(np.ceil(box[2])) + 2, width), min(int(np.ceil(box[3])) + 2, height)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue  # wholly outside the frame
            part = np.ascontiguousarray(pixels[y1:y2, x1:x2])
            images.append(_Image.of(part))
            shifted.append(box - np.array([x1, y1, x1, y1], np.float32))
            offsets.append((x1, y1))
            ids.append(i)
        found: list[Face | None] = [None] * len(squared)
        if not images:
            return found
        candidates = _Candidates(np.stack(shifted), np.zeros(len(shifted), np.float32), np.arange(len(shifted)))
        batch = CPU_ONET_BATCH.get(self.backend) if self.device == "cpu" else None
        kept, landmarks = output(self.onet, images, candidates, threshold, SERIAL, batch)
        for box, score, image_id, points in zip(kept.boxes, kept.scores, kept.image_ids, landmarks, strict=True):
            dx, dy = offsets[int(image_id)]
            moved = box[:4] + np.array([dx, dy, dx, dy], np.float32)
            found[ids[int(image_id)]] = Face.from_arrays(moved, score, points + np.array([dx, dy], np.float32))
        return found

    def _cascade(self, images: Sequence[_Image], workers: Workers = SERIAL) -> list[list[Face]]:
        """The three stages over some images; stages 2 and 3 take all their candidates at once."""
        parts = [propose(self._pnet_for(image), image, self.config, workers) for image in images]
        candidates = _Candidates(
            np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 4), np.float32),
            np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32),
            np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)]) if parts else np.zeros(0, np.int64),
        )
        candidates = refine(self.rnet, images, candidates, self.config.thresholds[1], workers)
        onet_batch = CPU_ONET_BATCH.get(self.backend) if self.device == "cpu" else None
        candidates, landmarks = output(self.onet, images, candidates, self.config.thresholds[2], workers, onet_batch)
        results: list[list[Face]] = [[] for _ in images]
        for box, score, image_id, points in zip(
            candidates.boxes, candidates.scores, candidates.image_ids, landmarks, strict=True
        ):
            results[int(image_id)].append(Face.from_arrays(box, score, points))
        return results
