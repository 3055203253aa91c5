"""facerec: face detection and recognition (MTCNN + FaceNet) for the shell, Python and HTTP."""

from facerec.detection.mtcnn import MTCNN, DetectorConfig
from facerec.errors import (
    DeviceError,
    DuplicateNameError,
    FacerecError,
    ImageError,
    MultipleFacesError,
    NoFaceError,
    StoreError,
    UnknownPersonError,
    WeightsError,
)
from facerec.images import load_image
from facerec.recognizer import FaceRecognizer
from facerec.types import Face, Verification

__version__ = "0.2.0"

__all__ = [
    "MTCNN",
    "DetectorConfig",
    "DeviceError",
    "DuplicateNameError",
    "Face",
    "FaceRecognizer",
    "FacerecError",
    "ImageError",
    "MultipleFacesError",
    "NoFaceError",
    "StoreError",
    "UnknownPersonError",
    "Verification",
    "WeightsError",
    "__version__",
    "load_image",
]
