"""Annotated copies: boxes, landmarks and labels people can read, the input left untouched."""

from __future__ import annotations

import numpy as np

from facerec.annotate import draw_faces
from facerec.types import Face


def _face(x1: float, y1: float, x2: float, y2: float) -> Face:
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return Face((x1, y1, x2, y2), 0.99, ((cx - 5, cy), (cx + 5, cy), (cx, cy + 3), (cx - 4, cy + 8), (cx + 4, cy + 8)))


def test_a_label_by_the_right_edge_is_drawn_whole_inside_the_image():
    image = np.zeros((120, 300, 3), np.uint8)
    drawn = draw_faces(image, [_face(270, 60, 299, 100)], ["unknown 0.14"])
    assert not image.any()  # a copy
    band = drawn[:58]  # the label sits above the box
    columns = np.flatnonzero((band > 0).any(axis=(0, 2)))
    assert columns.max() == 299 and columns.min() < 230  # the whole label, moved left, not cut off
    text = (band == 255).all(axis=2)
    assert text[:, : columns.min() + 40].any()  # its first letters are there


def test_labels_sit_above_their_boxes_and_boxes_are_drawn():
    image = np.full((200, 200, 3), 40, np.uint8)
    drawn = draw_faces(image, [_face(50, 80, 110, 150)], ["obama 0.73"])
    assert (drawn[80:151, 50] == (0, 200, 0)).all()  # the box's left side
    label = np.flatnonzero((drawn[:80] != 40).any(axis=(1, 2)))
    assert label.size and label.max() < 80
