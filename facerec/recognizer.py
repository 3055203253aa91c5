"""FaceRecognizer: the one object the CLI, the HTTP server and Python users call.

It composes the parts (image loading, detector, and in later stages embedder, store and index)
and owns their settings, so callers never wire parts together themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from facerec.images import DEFAULT_MAX_PIXELS, ImageSource, load_image
from facerec.mtcnn import MTCNN, DetectorConfig
from facerec.runtime import resolve_device
from facerec.types import Face


class FaceRecognizer:
    """Detect faces in photos (and, as facerec grows, embed, enrol and identify them)."""

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        detector: DetectorConfig | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.device = resolve_device(device)
        self.max_pixels = max_pixels
        self._detector_config = detector or DetectorConfig()
        self._detector: MTCNN | None = None

    @property
    def detector(self) -> MTCNN:
        """The MTCNN detector, loaded on first use (commands that never detect never pay for it)."""
        if self._detector is None:
            self._detector = MTCNN(self._detector_config, device=self.device)
        return self._detector

    def load(self, image: ImageSource) -> np.ndarray:
        """Decode any supported input with this recognizer's pixel limit."""
        return load_image(image, max_pixels=self.max_pixels)

    def detect(self, image: ImageSource) -> list[Face]:
        """Every face in one image, most confident first."""
        return self.detector.detect(self.load(image))

    def detect_many(self, images: Sequence[ImageSource]) -> list[list[Face]]:
        """Every face in each image; images may differ in size and are batched together."""
        return self.detector.detect_batch([self.load(image) for image in images])
