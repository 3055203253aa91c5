"""Model files: the manifest that describes them, where to find them, fetching and loading them safely.

Every model facerec uses is described once, in ``weights/manifest.json``: its files (path, sha256,
size, URL when it is not shipped), provenance, licence, the preprocessing it expects and its
verification threshold. A file is looked up, in order: an explicit path, ``$FACEREC_WEIGHTS_DIR``
(a folder laid out like ``weights/``), the user cache directory, the package's own ``weights/``,
and last a download into the cache. A file's sha256 is checked before it is used; the result is
remembered (in the cache folder, keyed by path, size and mtime) so start-up does not re-hash
94 MB every time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facerec.errors import WeightsError
from facerec.files import write_atomically

WEIGHTS_DIR_ENV = "FACEREC_WEIGHTS_DIR"
FINETUNED_FORMAT = "facerec-finetuned"  # the "format" of a model file facerec train writes (embedding.finetuned)
log = logging.getLogger(__name__)

# progress(done_bytes, total_bytes or None); called as a download goes.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class WeightFile:
    """One file of a model as the manifest describes it; ``path`` is relative to a weights folder."""

    path: str
    sha256: str
    size: int
    url: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A model of the manifest: what it is, what it expects, and its files by role."""

    name: str
    kind: str
    files: dict[str, WeightFile]
    embedding_size: int | None = None
    preprocessing: dict = field(default_factory=dict)
    threshold: float | None = None
    impostor_quantiles: tuple[tuple[float, float], ...] = ()  # (false accept rate, similarity)
    open_set_far: float = 0.05
    info: dict = field(default_factory=dict)  # description, licence, provenance: for people
    # The mean vector subtracted from every embedding before the final L2 normalisation, measured
    # on people outside every evaluation set: files["centre"] for a model of the manifest, inline
    # for a fine-tuned model file. None: the model's vectors are used as the network gives them.
    centre: tuple[float, ...] | None = field(default=None, repr=False)
    centre_info: dict = field(default_factory=dict)  # how the centre was made: data, count, date


def package_weights_dir() -> Path:
    """The weights shipped with facerec: inside the installed package, or the source checkout's."""
    package = Path(__file__).resolve().parents[1]  # facerec/
    installed = package / "_weights"
    return installed if installed.is_dir() else package.parent / "weights"


def user_cache_dir() -> Path:
    """facerec's cache: ``$XDG_CACHE_HOME/facerec`` (``~/.cache/facerec`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facerec"


@functools.cache
def load_manifest() -> dict:
    path = package_weights_dir() / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"cannot read the weights manifest {path}: {exc}") from None


def default_model() -> str:
    return load_manifest()["default_model"]


def model_names(kind: str | None = None) -> list[str]:
    return sorted(name for name, spec in load_manifest()["models"].items() if kind in (None, spec["kind"]))


def model_spec(name: str) -> ModelSpec:
    """A model of the manifest by name, or a model file made by ``facerec train`` by path."""
    models = load_manifest()["models"]
    if name not in models and (Path(name).suffix in (".pt", ".pth") or Path(name).is_file()):
        return file_spec(Path(name))
    if name not in models:
        raise WeightsError(f"unknown model {name!r}; known: {', '.join(sorted(models))}")
    raw = dict(models[name])
    files = {role: WeightFile(**spec) for role, spec in raw.pop("files").items()}
    return ModelSpec(
        name=name,
        kind=raw.pop("kind"),
        files=files,
        embedding_size=raw.pop("embedding_size", None),
        preprocessing=raw.pop("preprocessing", {}),
        threshold=raw.pop("threshold", None),
        impostor_quantiles=tuple((float(f), float(t)) for f, t in raw.pop("impostor_quantiles", [])),
        open_set_far=float(raw.pop("open_set_far", 0.05)),
        centre_info=raw.pop("centre", {}),
        info=raw,
    )


def file_spec(path: Path) -> ModelSpec:
    """The spec of a fine-tuned model file: everything is read from the file itself (once per
    file content: what it says is remembered in the cache, so later processes need no torch)."""
    if not path.is_file():
        raise WeightsError(f"model file {path} does not exist")
    path = path.resolve()
    sha = sha256_of(path)
    about = _finetuned_metadata(path, sha)
    return ModelSpec(
        name=f"{path.stem}-{sha[:8]}",
        kind="finetuned",
        files={"weights": WeightFile(str(path), sha, path.stat().st_size)},
        embedding_size=about["dimension"],
        preprocessing=about["preprocessing"],
        threshold=about["threshold"],
        info={"base_model": about["base_model"], "path": str(path), "training": about["training"]},
        centre=tuple(about["centre"]) if about.get("centre") else None,
        centre_info=about.get("centre_info") or {},
    )


def _finetuned_metadata(path: Path, sha: str) -> dict:
    remembered = user_cache_dir() / "models" / f"{sha}.json"
    about = _recall(remembered)
    if about is not None:
        return about
    checkpoint = load_state_dict(path)
    if checkpoint.get("format") != FINETUNED_FORMAT:
        raise WeightsError(f"{path} is not a model file made by facerec train")
    about = {
        "dimension": int(checkpoint["dimension"]),
        "preprocessing": dict(checkpoint.get("preprocessing", {})),
        "threshold": checkpoint.get("threshold"),
        "base_model": checkpoint["base_model"],
        "training": checkpoint.get("training", {}),
        "centre": [float(v) for v in checkpoint["centre"]] if checkpoint.get("centre") is not None else None,
        "centre_info": checkpoint.get("centre_info") or {},
    }
    _remember(remembered, about)
    return about


def load_centre(spec: ModelSpec) -> np.ndarray | None:
    """The model's centre vector (float32), or None for a model that has none.

    A manifest model's centre is a ``.npy`` file (read without pickle, like every weight file
    checked against its sha256 first); a fine-tuned model carries its own inline."""
    if spec.centre is not None:
        return np.asarray(spec.centre, np.float32)
    if "centre" not in spec.files:
        return None
    path = locate(spec.files["centre"])
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise WeightsError(f"cannot read the centre vector {path}: {exc}") from None
    if vector.ndim != 1 or (spec.embedding_size and len(vector) != spec.embedding_size):
        raise WeightsError(f"{path}: a centre vector of {spec.embedding_size} values was expected, got {vector.shape}")
    return vector.astype(np.float32)


def model_files(model: str) -> dict[str, WeightFile]:
    """The files of one model in the manifest, by role (e.g. ``pnet``)."""
    return model_spec(model).files


def search_dirs() -> list[Path]:
    """Folders searched for a weight file, in order; downloads go to the second (the cache)."""
    dirs = []
    if os.environ.get(WEIGHTS_DIR_ENV):
        dirs.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    dirs.append(user_cache_dir() / "weights")
    dirs.append(package_weights_dir())
    return dirs


# --- hashing, remembered per (path, size, mtime) ---------------------------------------------


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_cache_file() -> Path:
    return user_cache_dir() / "sha256.json"


def _recall(path: Path) -> Any:
    """A JSON document this module remembered in the cache, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _remember(path: Path, document: object) -> None:
    """Keep a JSON document in the cache; a cache we cannot write only costs time later."""
    with contextlib.suppress(OSError, TypeError):
        text = json.dumps(document)
        write_atomically(path, lambda temporary: temporary.write_text(text))


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    cache = _recall(_hash_cache_file()) or {}
    entry = cache.get(path)
    if entry and entry.get("size") == size and entry.get("mtime_ns") == mtime_ns:
        return entry["sha256"]
    digest = _hash_file(Path(path))
    cache[path] = {"size": size, "mtime_ns": mtime_ns, "sha256": digest}
    _remember(_hash_cache_file(), cache)
    return digest


def sha256_of(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, mtime) and remembered across processes."""
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def verify(path: Path, spec: WeightFile) -> Path:
    """Return ``path`` if its sha256 is the manifest's; raise WeightsError otherwise."""
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise WeightsError(
            f"{path}: sha256 {actual} does not match the manifest's {spec.sha256} for {spec.path}; "
            "the file is corrupt or a different model: delete or replace it"
        )
    return path


# --- download ----------------------------------------------------------------------------------


def _terminal_progress(description: str) -> tuple[Progress, Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; otherwise a log line at the start."""
    if not sys.stderr.isatty():
        log.warning("%s", description)
        return (lambda done, total: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress(
        "{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=Console(stderr=True)
    )
    task = bar.add_task(description, total=None)
    bar.start()
    return (lambda done, total: bar.update(task, completed=done, total=total)), bar.stop


def download(spec: WeightFile, destination: Path, progress: Progress | None = None, timeout: float = 30.0) -> Path:
    """Fetch ``spec.url`` to ``destination``: streamed to a temporary file beside it, checked
    (size and sha256), then renamed into place, so a partial or wrong file is never left where
    facerec looks for weights.
    """
    url = spec.url
    if not url:
        raise WeightsError(f"{spec.path} has no download URL in the manifest")
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if progress is None:
        progress, stop = _terminal_progress(f"downloading {spec.url}")

    def fetch(partial: Path) -> None:
        digest, received = hashlib.sha256(), 0
        with open(partial, "wb") as handle, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length else spec.size
            for block in iter(lambda: response.read(1 << 20), b""):
                handle.write(block)
                digest.update(block)
                received += len(block)
                progress(received, total)
        if received != spec.size:
            raise WeightsError(f"download of {spec.url} stopped after {received} of {spec.size} bytes")
        if digest.hexdigest() != spec.sha256:
            raise WeightsError(
                f"download of {spec.url} has sha256 {digest.hexdigest()}, expected {spec.sha256}; nothing was kept"
            )

    try:
        write_atomically(destination, fetch)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(
            f"could not download {spec.url} ({reason}). Without network access, fetch that file elsewhere "
            f"and put it at {destination} (or at $FACEREC_WEIGHTS_DIR/{spec.path})"
        ) from None
    finally:
        stop()
    return destination


def locate(spec: WeightFile, explicit: str | os.PathLike | None = None, fetch: bool = True) -> Path:
    """Find and verify a weight file, downloading it if the manifest has a URL; or raise
    WeightsError saying where it was looked for.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise WeightsError(f"weight file {path} does not exist")
        return verify(path, spec)
    tried = []
    for folder in search_dirs():
        candidate = folder / spec.path
        if candidate.is_file():
            return verify(candidate, spec)
        tried.append(str(candidate))
    if spec.url and fetch:
        return verify(download(spec, user_cache_dir() / "weights" / spec.path), spec)
    raise WeightsError(f"weight file {spec.path} not found; looked in: {', '.join(tried)}")


def load_state_dict(path: Path) -> dict[str, Any]:
    """Load a state dict (of torch tensors) without executing pickled code (``weights_only=True``)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file; the message is what matters
        raise WeightsError(f"cannot load weights from {path}: {exc}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict")
    return state
