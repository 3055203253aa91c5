"""A recorded camera for the attendance tests: real photos on a 640x480 canvas, timed, written as a
video file and served as an MJPEG stream from 127.0.0.1.

The script (seconds at 10 frames per second): blank, obama 2 s, a stranger, biden for a single
processed frame (must never check in), kit_harington, a gap longer than the confirmation window,
obama again (the same event, updated: within the dedupe window).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

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


def _canvas(photo: Path | None) -> np.ndarray:
    canvas = Image.new("RGB", SIZE, (90, 90, 90))
    if photo is not None:
        image = Image.open(photo).convert("RGB")
        image.thumbnail((SIZE[0] - 40, SIZE[1] - 40))
        canvas.paste(image, ((SIZE[0] - image.width) // 2, (SIZE[1] - image.height) // 2))
    return np.asarray(canvas)


def frames(data: Path) -> list[np.ndarray]:
    """RGB frames at FPS."""
    out = []
    for _who, photo, seconds in script(data):
        frame = _canvas(photo)
        out.extend([frame] * round(seconds * FPS))
    return out


def write_video(data: Path, target: Path) -> Path:
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in frames(data):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return target


class MjpegServer:
    """Serves the frames once as multipart/x-mixed-replace JPEGs at FPS (real time) on 127.0.0.1."""

    def __init__(self, data: Path, fps: float = FPS) -> None:
        jpegs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames(data)]

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
