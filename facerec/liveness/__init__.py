"""Liveness (presentation-attack detection): a real face in front of the camera, or a print or a
screen held up to it. MiniFASNet (minivision-ai, Apache-2.0): ``nets`` (the two networks),
``crops`` (their inputs, as the vendor cuts them), ``checker`` (LivenessChecker: the verdict)."""

from facerec.liveness.checker import LivenessChecker

__all__ = ["LivenessChecker"]
