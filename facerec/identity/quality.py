"""Quality figures of a detected face, and the gate enrolment applies to them.

Enrolled samples are the reference every later match is measured against, so photos that would
make poor references (tiny faces, blur, strong profile views) are skipped with a reason. The
defaults accept ordinary press photos and the 150 px greyscale crops of faceapi_bbt.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facerec.types import Face


@dataclass(frozen=True)
class QualityGate:
    min_face_px: float = 40.0  # shorter side of the detected box
    min_sharpness: float = 5.0  # variance of the Laplacian of the grey 160 px crop (LFW: 1st pct 20, min 7)
    max_yaw: float = 0.6  # nose offset from the eye midpoint, in eye distances


def yaw(face: Face) -> float:
    """A yaw proxy from the landmarks: the nose's offset from the eye midpoint, in eye distances."""
    (lx, ly), (rx, ry), (nx, _ny), _, _ = face.landmarks
    return float((nx - (lx + rx) / 2) / max(float(np.hypot(rx - lx, ry - ly)), 1e-6))


def measure(face: Face, crop: np.ndarray) -> dict:
    """Size, sharpness and a yaw proxy from the landmarks; plain floats, stored with the sample."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return {
        "size": float(min(face.width, face.height)),
        "sharpness": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        "yaw": yaw(face),
    }


def problems(figures: dict, gate: QualityGate) -> list[str]:
    """Why a face fails the gate (empty when it passes)."""
    found = []
    if figures["size"] < gate.min_face_px:
        found.append(f"face too small ({figures['size']:.0f} px < {gate.min_face_px:.0f})")
    if figures["sharpness"] < gate.min_sharpness:
        found.append(f"too blurred (sharpness {figures['sharpness']:.1f} < {gate.min_sharpness:g})")
    if abs(figures["yaw"]) > gate.max_yaw:
        found.append(f"too far from frontal (yaw {figures['yaw']:+.2f}, limit {gate.max_yaw:g})")
    return found
