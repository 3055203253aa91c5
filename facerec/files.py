"""Writing a file so that no reader, and no crash, ever sees half of it.

The content goes to a temporary file beside the target (same filesystem), which is renamed over
the target only once it is complete; on any failure the temporary file is removed and the
target is as it was. Model files, indexes, caches and archives all go through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary_path)`` and rename the result to ``target`` (folders created)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(descriptor)
    temporary = Path(name)
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
