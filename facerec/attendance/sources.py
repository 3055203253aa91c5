"""Frame sources for attendance: a video file, a camera, an RTSP/HTTP (MJPEG) stream, or a folder.

Each yields :class:`Frame` objects at the processing rate: a frame is decoded only when it is
due (``fps`` per second of source time), so a 30 fps camera costs 5 decodes a second, not 30.
Video files carry their own clock (``start`` + the frame's position), live sources the wall
clock, folders ``start`` + i / fps (or each file's modification time without ``start``).

A ``stop`` event ends any source between two frames (and wakes a watched folder's wait), so a
caller stopping on a signal never has it land inside the work on a frame.

A camera or a stream is read by a thread of its own that keeps only the newest frame: however
slow the recogniser, the frame it gets next is the one in front of the door now, not one from a
backlog (the frames it had no time for are counted: :class:`SourceStats`). A stream that drops
or stalls is reopened with back-off (0.5 s doubling to 30 s) until ``stop``: a door camera that
reboots never ends ``attend``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from facerec.errors import FacerecError, ImageError
from facerec.images import load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".mjpeg", ".mjpg"}


def is_video(path: str) -> bool:
    """A file that ``enroll`` and ``identify`` read as a video (by its suffix), not as a photo."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES and Path(path).is_file()


WATCH_POLL_SECONDS = 0.5


RECONNECT_FIRST = 0.5  # seconds before the first reopening of a dropped stream; doubling
RECONNECT_MAX = 30.0
STALL_SECONDS = 5.0  # a stream that sends nothing for this long is dropped and reopened


@dataclass
class SourceStats:
    """What a live source did: frames read from it, processed, skipped (read while the
    recogniser was busy: only the newest is kept), and times it was reopened."""

    read: int = 0
    processed: int = 0
    reconnects: int = 0

    @property
    def skipped(self) -> int:
        return max(0, self.read - self.processed)


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
    reconnect: bool = True,
    stats: SourceStats | None = None,
    notice: Callable[[str], None] | None = None,
) -> Iterator[Frame]:
    """Frames of a source at ``fps`` frames per second of source time, until it ends or ``stop``
    is set. A live source (camera, stream) ends only with ``stop``, unless ``reconnect`` is
    False: then when it drops. ``stats`` is filled as frames go; ``notice`` hears of drops."""
    if fps <= 0:
        raise FacerecError(f"--fps must be positive, got {fps}")
    stop = stop or threading.Event()
    kind = describe(spec)
    if kind == "folder":
        return _folder(Path(spec), fps, start, watch, stop)
    if watch:
        raise FacerecError("--watch applies to a folder of images only")
    if kind == "video":
        return _ahead(_capture(spec, fps, start or datetime.now(UTC), False, stop), stop)
    target = int(spec) if kind == "camera" else spec
    reader = LiveReader(target, stop, reconnect, stats or SourceStats(), notice or (lambda _message: None))
    return reader.frames(fps)


READ_AHEAD = 4  # frames of a video file decoded ahead of the one being processed


def _ahead(frames: Generator[Frame, None, None], stop: threading.Event, depth: int = READ_AHEAD) -> Iterator[Frame]:
    """The same frames, decoded by a thread of their own a few frames ahead: OpenCV lets go of
    the GIL while it decodes, so a 1080p video's decoding (~5 ms a frame) overlaps the work on
    the frame before instead of adding to it."""
    buffer: queue.Queue = queue.Queue(depth)
    finished = object()
    quit_ = threading.Event()

    def put(item) -> bool:
        while not (quit_.is_set() or stop.is_set()):
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            with contextlib.suppress(Exception):
                frames.close()
            put(finished)

    reader = threading.Thread(target=pump, name="facerec-video", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = buffer.get(timeout=0.05)
            except queue.Empty:
                if not reader.is_alive() and buffer.empty():
                    return
                continue
            if item is finished:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        quit_.set()
        reader.join(timeout=5)


def _capture(target, fps: float, start: datetime, live: bool, stop: threading.Event) -> Generator[Frame, None, None]:
    import cv2

    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        raise FacerecError(f"{target}: cannot open it as a video, camera or stream")
    return _read(capture, fps, start, live, stop)


def _read(capture, fps: float, start: datetime, live: bool, stop: threading.Event) -> Generator[Frame, None, None]:
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


def _open_live(target: int | str):
    import cv2

    if isinstance(target, int):
        return cv2.VideoCapture(target)
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(STALL_SECONDS * 1000), cv2.CAP_PROP_READ_TIMEOUT_MSEC]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, [*timeouts, int(STALL_SECONDS * 1000)])


class LiveReader:
    """A camera or stream read by its own thread; :meth:`frames` hands out the newest frame.

    The thread reads every frame the source sends and keeps the last; the consumer takes one
    when it is due and ready, so it never works through a backlog. Dropped or stalled, the
    source is reopened with back-off; the first open failing is an error (a wrong URL says so)."""

    def __init__(self, target: int | str, stop: threading.Event, reconnect: bool, stats: SourceStats, notice) -> None:
        self.target, self.stop, self.reconnect, self.stats, self.notice = target, stop, reconnect, stats, notice
        capture = _open_live(target)
        if not capture.isOpened():
            raise FacerecError(f"{target}: cannot open it as a video, camera or stream")
        self._quit = threading.Event()  # the consumer is done
        self._changed = threading.Condition()
        self._newest: np.ndarray | None = None  # BGR, read and not yet taken
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(capture,), name=f"source {target}", daemon=True)
        self._thread.start()

    def _stopped(self) -> bool:
        return self.stop.is_set() or self._quit.is_set()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopped() and time.monotonic() < deadline:
            self._quit.wait(min(0.1, max(0.0, deadline - time.monotonic())))

    def _run(self, capture) -> None:
        backoff = RECONNECT_FIRST
        try:
            while not self._stopped():
                ok, bgr = capture.read() if capture is not None else (False, None)
                if ok:
                    backoff = RECONNECT_FIRST
                    with self._changed:
                        self.stats.read += 1
                        self._newest = bgr
                        self._changed.notify_all()
                    continue
                if not self.reconnect or self._stopped():
                    break
                if capture is not None:
                    capture.release()
                    capture = None
                    self.notice(f"{self.target}: the stream dropped or stalled; reopening in {backoff:g} s")
                self._sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX)
                reopened = _open_live(self.target)
                if reopened.isOpened():
                    capture = reopened
                    self.stats.reconnects += 1
                    self.notice(f"{self.target}: reopened")
                else:
                    reopened.release()
        finally:
            if capture is not None:
                capture.release()
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def frames(self, fps: float) -> Iterator[Frame]:
        import cv2

        step, due = 1.0 / fps, time.monotonic()
        try:
            while not self._stopped():
                wait = due - time.monotonic()
                if wait > 0:
                    self._sleep(wait)
                    continue
                with self._changed:
                    ready = lambda: self._newest is not None or self._ended or self._stopped()  # noqa: E731
                    self._changed.wait_for(ready, WATCH_POLL_SECONDS)
                    bgr, self._newest = self._newest, None
                    if bgr is None:
                        if self._ended:
                            return
                        continue
                due = max(due + step, time.monotonic())
                self.stats.processed += 1
                yield Frame(datetime.now(UTC), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"frame {self.stats.read}")
        finally:
            self._quit.set()
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout=STALL_SECONDS + 1)


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


def merged(feeds: list[Iterator[Frame]], stop: threading.Event) -> Iterator[tuple[int, Frame]]:
    """Frames of several sources as they come, as (which source, frame): each source is read on a
    thread of its own, and hands over its next frame when the consumer takes the last one (a
    live source's newest, a video's next). One source is read in the caller's thread."""
    if len(feeds) == 1:
        yield from ((0, frame) for frame in feeds[0])
        return
    handed: queue.Queue = queue.Queue(maxsize=len(feeds))
    done = object()
    quit_ = threading.Event()
    failures: list[BaseException] = []

    def pump(i: int, feed: Iterator[Frame]) -> None:
        try:
            for frame in feed:
                while not (stop.is_set() or quit_.is_set()):
                    try:
                        handed.put((i, frame), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set() or quit_.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            failures.append(exc)
        finally:
            handed.put((i, done))

    threads = [threading.Thread(target=pump, args=(i, f), name=f"feed {i}", daemon=True) for i, f in enumerate(feeds)]
    for thread in threads:
        thread.start()
    running = len(feeds)
    try:
        while running:
            i, frame = handed.get()
            if failures:
                raise failures[0]
            if frame is done:
                running -= 1
                continue
            yield i, frame
    finally:
        quit_.set()
        while any(t.is_alive() for t in threads):
            with contextlib.suppress(queue.Empty):
                handed.get(timeout=0.1)
