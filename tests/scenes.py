"""Labelled test videos made from real photos: LFW faces moving over a real background (pan, zoom,
blur, crossings, occlusion, hard cuts), with the ground truth of where each face is in each frame.

An actor is one person's photo (the central part of an LFW image: face and a little around it)
following a path: its centre and size at each frame, drawn in order (later actors in front), so
one may pass in front of another and hide them. A scene is drawn on a background that pans; a
cut switches the background at a frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SIZE = (640, 480)
FPS = 25

Path_ = Callable[[int], tuple[float, float, float]]  # frame -> (centre x, centre y, crop size in px)


def lfw(data: Path, person: str, number: int) -> Path:
    return data / "lfw_train" / person / f"{person}_{number:04d}.jpg"


def face_patch(photo: Path) -> np.ndarray:
    """The central 150 x 150 of a 250 x 250 LFW photo: the face (about 100 px) and a margin."""
    image = np.asarray(Image.open(photo).convert("RGB"))
    return image[50:200, 50:200]


@dataclass
class Actor:
    name: str
    patch: np.ndarray = field(repr=False)
    path: Path_
    frames: range  # when the actor is in view
    blur: Callable[[int], float] = lambda _i: 0.0  # Gaussian sigma of the actor's patch at a frame
    blend: Callable[[int], tuple[np.ndarray, float] | None] = lambda _i: None  # another patch mixed in

    def box(self, i: int) -> tuple[float, float, float, float]:
        """Where the face is (roughly: the patch's central 2/3)."""
        cx, cy, size = self.path(i)
        half = size / 3
        return cx - half, cy - half, cx + half, cy + half

    def patch_box(self, i: int) -> tuple[float, float, float, float]:
        cx, cy, size = self.path(i)
        return cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2


@dataclass
class Scene:
    backgrounds: list[np.ndarray]  # the first, and one more for each cut
    actors: list[Actor]
    length: int
    cuts: tuple[int, ...] = ()  # frames where the picture switches to the next background
    pan: float = 0.0  # pixels per frame the camera turns (the background slides)
    blur_frames: tuple[int, ...] = ()  # frames blurred whole (the camera shook)

    def frame(self, i: int) -> np.ndarray:
        shot = sum(i >= c for c in self.cuts)
        background = self.backgrounds[shot]
        offset = int(round(self.pan * i)) % max(background.shape[1] - SIZE[0], 1)
        canvas = background[: SIZE[1], offset : offset + SIZE[0]].copy()
        for actor in self.actors:
            if i in actor.frames:
                _paste(canvas, actor, i)
        if i in self.blur_frames:
            canvas = cv2.GaussianBlur(canvas, (0, 0), 2.0)
        return canvas

    def frames(self) -> list[np.ndarray]:
        return [self.frame(i) for i in range(self.length)]

    def truth(self, i: int) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(actor, face box) of the actors whose face can be seen at frame i (in view, and not
        mostly hidden behind an actor drawn after them)."""
        shown = []
        for k, actor in enumerate(self.actors):
            if i not in actor.frames:
                continue
            face = actor.box(i)
            covered = max((_covered(face, front.patch_box(i)) for front in self.actors[k + 1 :] if i in front.frames),
                          default=0.0)  # fmt: skip
            if covered < 0.5:
                shown.append((actor.name, face))
        return shown

    def write(self, target: Path) -> Path:
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
        assert writer.isOpened(), "OpenCV cannot write MJPG video here"
        for frame in self.frames():
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        return target


def background(data: Path, which: str = "street", width: int = SIZE[0] + 200) -> np.ndarray:
    """A real photo with no human face in it (dogs.jpg), or a plain studio wall for a second shot."""
    if which == "street":
        image = Image.open(data / "detection_gt" / "dogs.jpg").convert("RGB")
        image = image.resize((width, int(image.height * width / image.width)))
        return np.asarray(image)[: SIZE[1]]
    ramp = np.linspace(40, 200, width, dtype=np.float32)
    wall = np.stack([np.tile(ramp, (SIZE[1], 1)) * k for k in (0.4, 0.7, 1.0)], axis=2)
    return wall.astype(np.uint8)


def line(start: tuple[float, float, float], end: tuple[float, float, float], first: int, last: int) -> Path_:
    """Straight from ``start`` to ``end`` (centre x, centre y, size) between two frames."""

    def at(i: int) -> tuple[float, float, float]:
        t = min(max((i - first) / max(last - first, 1), 0.0), 1.0)
        return tuple(a + (b - a) * t for a, b in zip(start, end, strict=True))  # type: ignore[return-value]

    return at


def _covered(face: tuple, front: tuple) -> float:
    """The share of ``face`` that ``front`` covers."""
    w = min(face[2], front[2]) - max(face[0], front[0])
    h = min(face[3], front[3]) - max(face[1], front[1])
    area = (face[2] - face[0]) * (face[3] - face[1])
    return max(w, 0) * max(h, 0) / area if area > 0 else 0.0


def _paste(canvas: np.ndarray, actor: Actor, i: int) -> None:
    cx, cy, size = actor.path(i)
    side = max(int(round(size)), 8)
    patch = actor.patch
    mixed = actor.blend(i)
    if mixed is not None:
        other, alpha = mixed
        patch = (patch.astype(np.float32) * (1 - alpha) + other.astype(np.float32) * alpha).astype(np.uint8)
    patch = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    sigma = actor.blur(i)
    if sigma > 0:
        patch = cv2.GaussianBlur(patch, (0, 0), sigma)
    x1, y1 = int(round(cx - side / 2)), int(round(cy - side / 2))
    sx1, sy1 = max(0, -x1), max(0, -y1)
    x1, y1 = max(x1, 0), max(y1, 0)
    x2, y2 = min(x1 + side - sx1, canvas.shape[1]), min(y1 + side - sy1, canvas.shape[0])
    if x2 > x1 and y2 > y1:
        canvas[y1:y2, x1:x2] = patch[sy1 : sy1 + (y2 - y1), sx1 : sx1 + (x2 - x1)]
