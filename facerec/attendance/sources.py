"""Frame sources for attendance: a video file, a camera, an RTSP/HTTP (MJPEG) stream, or a folder.

Each yields :class:`Frame` objects at the processing rate: a frame is decoded only when it is
due (``fps`` per second of source time), so a 30 fps camera costs 5 decodes a second, not 30.
Video files carry their own clock (``start`` + the frame's position), live sources the wall
clock, folders ``start`` + i / fps (or each file's modification time without ``start``).

A ``stop`` event ends any source between two frames (and wakes a watched folder's wait), so a
caller stopping on a signal never has it land inside the work on a frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from facerec.errors import FacerecError, ImageError
from facerec.images import load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
WATCH_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Frame:
    time: datetime  # aware
    pixels: np.ndarray  # H x W x 3 RGB uint8
    position: str  # where in the source, for messages: "frame 12", a file name


def describe(spec: str) -> str:
    """What kind of source a SOURCE argument names."""
    if spec.isdigit():
        return "camera"
    if spec.split("://", 1)[0].lower() in ("rtsp", "rtsps", "http", "https"):
        return "stream"
    path = Path(spec)
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "video"
    raise FacerecError(f"{spec}: no such file, folder, camera index or stream URL")


def frames(
    spec: str,
    *,
    fps: float = 5.0,
    start: datetime | None = None,
    watch: bool = False,
    stop: threading.Event | None = None,
) -> Iterator[Frame]:
    """Frames of a source at ``fps`` frames per second of source time, until it ends or ``stop``
    is set."""
    if fps <= 0:
        raise FacerecError(f"--fps must be positive, got {fps}")
    stop = stop or threading.Event()
    kind = describe(spec)
    if kind == "folder":
        return _folder(Path(spec), fps, start, watch, stop)
    if watch:
        raise FacerecError("--watch applies to a folder of images only")
    if kind == "video":
        return _capture(spec, fps, start or datetime.now(UTC), False, stop)
    return _capture(int(spec) if kind == "camera" else spec, fps, None, True, stop)


def _capture(target, fps: float, start: datetime | None, live: bool, stop: threading.Event) -> Iterator[Frame]:
    import cv2

    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        raise FacerecError(f"{target}: cannot open it as a video, camera or stream")
    return _read(capture, fps, start, live, stop)


def _read(capture, fps: float, start: datetime | None, live: bool, stop: threading.Event) -> Iterator[Frame]:
    import cv2

    step = 1.0 / fps
    native = capture.get(cv2.CAP_PROP_FPS) or 0.0
    native = native if 0 < native < 1000 else 25.0
    due, index = 0.0, 0
    started = time.monotonic()
    try:
        while not stop.is_set() and capture.grab():
            offset = (time.monotonic() - started) if live else index / native
            index += 1
            if offset + 1e-6 < due:
                continue  # not due: grabbed (demuxed) but never decoded
            ok, bgr = capture.retrieve()
            if not ok:
                continue
            due = max(due + step, offset)  # every frame when the source is slower than fps
            moment = datetime.now(UTC) if live else start + timedelta(seconds=offset)
            yield Frame(moment, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"frame {index - 1}")
    finally:
        capture.release()


def _folder(folder: Path, fps: float, start: datetime | None, watch: bool, stop: threading.Event) -> Iterator[Frame]:
    seen: set[Path] = set()
    count = 0
    while True:
        new = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p not in seen)
        for path in new:
            if stop.is_set():
                return
            seen.add(path)
            try:
                pixels = load_image(path)
            except ImageError:
                continue  # a half-copied or foreign file: skip it, as a camera skips a bad frame
            if start is not None:
                moment = start + timedelta(seconds=count / fps)
            else:
                moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            count += 1
            yield Frame(moment, pixels, path.name)
        if not watch or stop.wait(WATCH_POLL_SECONDS):
            return
