"""A recorded camera for the attendance tests: real photos on a 640x480 canvas, timed, written as a
video file and served as an MJPEG stream from 127.0.0.1.

The script (seconds at 10 frames per second): blank, obama 2 s, a stranger, biden for a single
processed frame (must never check in), kit_harington, a gap longer than the confirmation window,
obama again (the same event, updated: within the dedupe window).

The liveness script, on the vendor's 480 x 640 phone frames (../shared/data/antispoof): a real
person, then a printed photo of an enrolled person, then a photo shown on a tablet.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

FPS = 10
SIZE = (640, 480)


def script(data: Path) -> list[tuple[str | None, Path | None, float]]:
    """(who, photo, seconds) in order; who is None for blank or a stranger."""
    examples = data / "face_recognition/examples"
    train = examples / "knn_examples/train"
    return [
        (None, None, 0.6),
        ("obama", examples / "obama-480p.jpg", 2.0),
        (None, examples / "lin-manuel-miranda.png", 1.6),
        ("biden-flash", examples / "biden.jpg", 0.2),
        (None, None, 0.6),
        ("kit_harington", train / "kit_harington/john1.jpeg", 1.6),
        (None, None, 3.4),
        ("obama", examples / "obama-480p.jpg", 1.2),
    ]


def spoof_script(data: Path) -> list[tuple[str | None, Path | None, float]]:
    """(who, frame, seconds) for the liveness tests, on PHONE frames (who: what the face is)."""
    frames = data / "antispoof"
    return [
        (None, None, 0.6),
        ("live", frames / "image_T1.jpg", 2.0),
        (None, None, 2.6),
        ("print", frames / "image_F1.jpg", 2.0),
        (None, None, 2.6),
        ("screen", frames / "image_F2.jpg", 2.0),
    ]


PHONE = (480, 640)


def _canvas(photo: Path | None, size: tuple[int, int] = SIZE) -> np.ndarray:
    canvas = Image.new("RGB", size, (90, 90, 90))
    if photo is not None:
        image = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
        image.thumbnail((size[0] - 40, size[1] - 40) if image.size != size else size)
        canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return np.asarray(canvas)


def frames(data: Path, scene=script, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """RGB frames at FPS."""
    out = []
    for _who, photo, seconds in scene(data):
        frame = _canvas(photo, size)
        out.extend([frame] * round(seconds * FPS))
    return out


def write_video(data: Path, target: Path, scene=script, size: tuple[int, int] = SIZE) -> Path:
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in frames(data, scene, size):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return target


class MjpegServer:
    """Serves the frames once as multipart/x-mixed-replace JPEGs at FPS (real time) on 127.0.0.1."""

    def __init__(self, data: Path, fps: float = FPS, pictures: list[np.ndarray] | None = None) -> None:
        shown = frames(data) if pictures is None else pictures
        jpegs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in shown]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                start = time.monotonic()
                try:
                    for i, jpeg in enumerate(jpegs):
                        time.sleep(max(0.0, start + i / fps - time.monotonic()))
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class FlakyMjpegServer:
    """An MJPEG camera that misbehaves as real ones do. Connection i plays ``plans[i]`` (the last
    plan again for any later one): a list of (photo or None, seconds) scenes at ``fps``, then
    ``"drop"`` (the connection closed) or ``("stall", seconds)`` (connected, nothing sent). The
    wall-clock time each connection's scenes began is kept in ``started`` (for latency checks)."""

    def __init__(self, plans: list[tuple[list[tuple[Path | None, float]], object]], fps: float = FPS) -> None:
        self.started: list[float] = []
        self.connections = 0
        server = self
        encoded: dict[Path | None, bytes] = {}

        def jpeg(photo: Path | None) -> bytes:
            if photo not in encoded:
                encoded[photo] = cv2.imencode(".jpg", cv2.cvtColor(_canvas(photo), cv2.COLOR_RGB2BGR))[1].tobytes()
            return encoded[photo]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                scenes, after = plans[min(server.connections, len(plans) - 1)]
                server.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                start = time.monotonic()
                server.started.append(time.time())
                sent = 0
                try:
                    for photo, seconds in scenes:
                        for _ in range(round(seconds * fps)):
                            time.sleep(max(0.0, start + sent / fps - time.monotonic()))
                            data = jpeg(photo)
                            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                            self.wfile.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data + b"\r\n")
                            self.wfile.flush()
                            sent += 1
                    if isinstance(after, tuple) and after[0] == "stall":
                        time.sleep(after[1])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyMjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
