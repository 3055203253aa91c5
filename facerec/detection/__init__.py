"""Detection: every face of an image, with its box, confidence and five landmarks (MTCNN).

``mtcnn/`` (nets, boxes, area, the cascade: MTCNN, DetectorConfig) and ``choose`` (which face
to use where a task needs one)."""
