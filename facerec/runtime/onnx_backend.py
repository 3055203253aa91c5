"""Networks on ONNX Runtime: the CPU inference path.

The ONNX graphs are derived from the shipped ``.pt`` weights, never shipped themselves: the first
process that needs one exports it with torch (:mod:`facerec.runtime.torch_backend`) into the user cache,
keyed by the weights' sha256 and :data:`EXPORT_VERSION`; every later process only reads it, without
importing torch. A cache that cannot be written costs an export per process, not a failure.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from facerec.files import write_atomically
from facerec.runtime.weights import user_cache_dir

log = logging.getLogger(__name__)
# Preparing the graphs takes about 20 s on a first run (torch imported, every network exported),
# once per machine: a silent first command looks hung. The CLI shows this logger's lines on stderr.
preparing = logging.getLogger("facerec.preparing")

# Bump when the exported graphs change (layers, opset, input/output layout): old files are then
# ignored, since their names no longer match, and removed once their replacement is written.
EXPORT_VERSION = 3  # 2: MTCNN's PReLU as nets.BlockedPReLU; 3: R-Net's channels padded (nets.PADDED)

Export = Callable[[BinaryIO], None]


def onnx_cache_dir() -> Path:
    return user_cache_dir() / "onnx"


def cached_model(name: str, export: Export) -> Path | bytes:
    """The ONNX model ``name`` from the cache, exported and stored there first if missing.

    Returns the file's path, or the model's bytes when the cache folder cannot be written."""
    path = onnx_cache_dir() / f"{name}-v{EXPORT_VERSION}.onnx"
    if path.is_file():
        return path
    buffer = io.BytesIO()
    preparing.info("preparing models for this machine (once): %s", _label(name))
    export(buffer)
    try:
        write_atomically(path, lambda temporary: temporary.write_bytes(buffer.getvalue()))
    except OSError as exc:
        log.warning("cannot cache %s (%s); it will be exported again by the next process", path, exc)
        return buffer.getvalue()
    _remove_older_exports(path.parent, name)
    return path


def _label(name: str) -> str:
    """A graph's name without its hashes: ``mtcnn pnet``, ``facenet int8``."""
    parts = name.split("-")
    return " ".join(p for p in parts if not (len(p) == 16 and all(c in "0123456789abcdef" for c in p)))


def _remove_older_exports(folder: Path, name: str) -> None:
    """Graphs of ``name`` from earlier export versions are never read again. Newer ones stay: a
    newer facerec sharing this cache still reads them."""
    for graph in folder.glob(f"{name}-v*.onnx"):
        version = graph.stem.rsplit("-v", 1)[1]
        if version.isdigit() and int(version) < EXPORT_VERSION:
            graph.unlink(missing_ok=True)


def new_session(model: Path | bytes, threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph rewrites
    options.inter_op_num_threads = 1
    # A session with several threads has its own pool, whose workers by default keep spinning
    # after a run, taking the cores from whatever runs next (the detector's workers, the next
    # photo): detection + embedding of a 640x480 photo measured 170 ms with that against 73 ms
    # without. Spinning *during* a run saves waking the workers for each of FaceNet's 132
    # convolutions, so it is kept while a run lasts and stopped when it returns: warm identify
    # measured 3.5 ms faster than never spinning (the two interleaved in one process, 55 photos each).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    if threads:
        options.intra_op_num_threads = threads
    source = str(model) if isinstance(model, Path) else model
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


_session = functools.cache(new_session)


class OnnxNetwork:
    """A network as a function: N x C x H x W float32 in, its outputs as numpy arrays out.

    Sessions are cached per model and thread count, so every detector or embedder of a process
    shares one."""

    def __init__(self, model: Path | bytes, threads: int | None = None, *, shared: bool = True) -> None:
        self.session = (_session if shared else new_session)(model, threads)
        self._input = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(self.session.run(None, {self._input: np.ascontiguousarray(batch, dtype=np.float32)}))


def parsed_model(name: str, export: Export):
    """The cached model ``name`` as an ``onnx.ModelProto``, to derive another graph from (int8); a
    cached file that does not parse (damaged on disk) is exported again."""
    import onnx

    model = cached_model(name, export)
    for attempt in (1, 2):
        try:
            return onnx.load(str(model)) if isinstance(model, Path) else onnx.load_from_string(model)
        except Exception as exc:  # protobuf's DecodeError and friends
            if not isinstance(model, Path) or attempt == 2:
                raise
            log.warning("cannot read the cached %s (%s); exporting it again", model, exc)
            model.unlink(missing_ok=True)
            model = cached_model(name, export)
    raise AssertionError("unreachable")


def open_network(name: str, export: Export, threads: int | None = None) -> OnnxNetwork:
    """:class:`OnnxNetwork` of a cached model; a cached file ONNX Runtime cannot read (damaged on
    disk) is exported again rather than failing every later start."""
    model = cached_model(name, export)
    try:
        return OnnxNetwork(model, threads)
    except Exception as exc:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
        if not isinstance(model, Path):
            raise
        log.warning("cannot read the cached %s (%s); exporting it again", model, exc)
        model.unlink(missing_ok=True)
        return OnnxNetwork(cached_model(name, export), threads)
