"""MTCNN face detection: networks, box maths, area resampling and the cascade."""

from facerec.detection.mtcnn.detector import MTCNN, DetectorConfig

__all__ = ["MTCNN", "DetectorConfig"]
