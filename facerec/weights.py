"""Model files: the manifest that describes them, where to find them, and loading them safely.

Every weight file facerec uses is described once, in ``weights/manifest.json`` (path, sha256,
size, provenance). A file is looked up, in order: an explicit path, ``$FACEREC_WEIGHTS_DIR``
(a folder laid out like ``weights/``), the user cache directory, and the package's own
``weights/``. Each file's sha256 is checked before it is used, once per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from facerec.errors import WeightsError

WEIGHTS_DIR_ENV = "FACEREC_WEIGHTS_DIR"


@dataclass(frozen=True)
class WeightFile:
    """One file of a model as the manifest describes it; ``path`` is relative to a weights folder."""

    path: str
    sha256: str
    size: int
    url: str | None = None


def package_weights_dir() -> Path:
    """The weights shipped with facerec: inside the installed package, or the source checkout's."""
    here = Path(__file__).resolve().parent
    installed = here / "_weights"
    return installed if installed.is_dir() else here.parent / "weights"


def user_cache_dir() -> Path:
    """Where downloaded weights go: ``$XDG_CACHE_HOME/facerec/weights`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facerec" / "weights"


@functools.cache
def load_manifest() -> dict:
    path = package_weights_dir() / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"cannot read the weights manifest {path}: {exc}") from None


def model_files(model: str) -> dict[str, WeightFile]:
    """The files of one model in the manifest, by role (e.g. ``pnet``)."""
    models = load_manifest()["models"]
    if model not in models:
        raise WeightsError(f"unknown model {model!r}; known: {', '.join(sorted(models))}")
    return {role: WeightFile(**spec) for role, spec in models[model]["files"].items()}


def search_dirs() -> list[Path]:
    """Folders searched for a weight file, in order."""
    dirs = []
    if os.environ.get(WEIGHTS_DIR_ENV):
        dirs.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    dirs.append(user_cache_dir())
    dirs.append(package_weights_dir())
    return dirs


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, mtime) in this process."""
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


def locate(spec: WeightFile, explicit: str | os.PathLike | None = None) -> Path:
    """Find and verify a weight file, or raise WeightsError saying where it was looked for."""
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
    raise WeightsError(f"weight file {spec.path} not found; looked in: {', '.join(tried)}")


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict without executing pickled code (``weights_only=True``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file; the message is what matters
        raise WeightsError(f"cannot load weights from {path}: {exc}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict")
    return state
