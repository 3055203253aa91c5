"""Shot changes: a cut in edited video, or a camera switching view, ends every face track.

Without this, a face after a cut that happens to sit where another face was before it would
inherit that face's track, and with it an identity it never earned. A cut changes the whole
picture at once, where people walking change a part of it: compare each frame's colour
distribution (a coarse hue/saturation histogram of a thumbnail) and its layout (the thumbnail's
grey levels) with the previous frame's, and call it a cut when both moved far.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB = (64, 36)  # width, height: enough for the layout, cheap at 1080p (a strided view is resized)


@dataclass(frozen=True)
class Thumb:
    grey: np.ndarray  # THUMB, float32 0..255
    histogram: np.ndarray  # hue x saturation, normalised to sum 1


def thumbnail(pixels: np.ndarray) -> Thumb:
    """The figures of a frame (H x W x 3 RGB uint8) that shot detection compares."""
    step = max(1, min(pixels.shape[0] // (THUMB[1] * 2), pixels.shape[1] // (THUMB[0] * 2)))
    small = cv2.resize(np.ascontiguousarray(pixels[::step, ::step]), THUMB, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1], None, [16, 4], [0, 180, 0, 256]).ravel()
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return Thumb(grey, histogram / max(float(histogram.sum()), 1.0))


@dataclass(frozen=True)
class ShotRule:
    """A cut when the histograms' overlap falls under ``overlap`` and the grey thumbnails differ by
    more than ``difference`` on average (0..255). People crossing a door change a fraction of the
    picture: on doorway_1080p.mp4 the least overlap between frames is 0.9 and the largest mean
    difference 6; a cut between two of the test backgrounds gives under 0.5 and over 40."""

    overlap: float = 0.6
    difference: float = 20.0

    def is_cut(self, before: Thumb, after: Thumb) -> bool:
        overlap = float(np.minimum(before.histogram, after.histogram).sum())
        difference = float(np.abs(before.grey - after.grey).mean())
        return overlap < self.overlap and difference > self.difference


class ShotDetector:
    """Says, frame by frame, whether the picture was cut since the last frame."""

    def __init__(self, rule: ShotRule | None = None) -> None:
        self.rule = rule or ShotRule()
        self._last: Thumb | None = None

    def cut(self, pixels: np.ndarray) -> bool:
        thumb = thumbnail(pixels)
        last, self._last = self._last, thumb
        return last is not None and self.rule.is_cut(last, thumb)
