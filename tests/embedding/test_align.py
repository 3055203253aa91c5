"""Face crops: facenet-pytorch's margin crop, and 5-point similarity alignment."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from facerec.embedding import align
from facerec.embedding.embedder import Embedder
from facerec.images import load_image
from facerec.types import Face


def test_margin_box_grows_by_the_margin_in_output_pixels_and_clips():
    # A 100 x 100 box with margin 32 at size 160: the face must span 128 px, so the box grows by
    # 32 * 100 / 128 = 25 px in each dimension, 12.5 on each side.
    assert align.margin_box((50, 60, 150, 160), 32, 160, 1000, 1000) == (37, 47, 162, 172)
    assert align.margin_box((-10, 5, 90, 105), 32, 160, 80, 1000) == (0, 0, 80, 117)


_PHOTO = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
_POINTS = tuple((0.0, 0.0) for _ in range(5))


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-80, 120),
    st.floats(-80, 100),
    st.floats(0.5, 150),
    st.floats(0.5, 150),
    st.sampled_from([0.0, 20.0, 44.0]),
    st.sampled_from(["clip", "pad"]),
)
def test_margin_crop_is_pillows_crop_of_the_whole_photo(x, y, w, h, margin, border):
    """The box is cut out before it reaches Pillow; the pixels are those of Pillow's own crop of
    the whole photo (black outside it), for boxes inside, across and wholly outside the photo."""
    face = Face(box=(x, y, x + w, y + h), confidence=1.0, landmarks=_POINTS)
    left, top, right, bottom = align.margin_box(face.box, margin, 32, 64, 48, clip=border == "clip")
    expected = np.zeros((32, 32, 3), np.uint8)
    if right > left and bottom > top:
        crop = Image.fromarray(_PHOTO).crop((left, top, right, bottom))
        expected = np.asarray(crop.resize((32, 32), Image.BILINEAR))
    np.testing.assert_array_equal(align.margin_crop(_PHOTO, face, 32, margin, border), expected)


def test_margin_crop_matches_facenet_pytorch_crops_loosely(data, detector):
    """test_images_aligned holds crops an older facenet-pytorch made: compare pixels and identity."""
    embedder = Embedder()
    for name in ("angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham"):
        source = data / "facenet_pytorch/test_images" / name / "1.jpg"
        theirs = load_image(data / "facenet_pytorch/test_images_aligned" / name / "1.png")
        image = load_image(source)
        face = max(detector.detect(image), key=lambda f: f.confidence)
        ours = align.margin_crop(image, face, 160, 0)
        assert ours.shape == theirs.shape == (160, 160, 3)
        assert np.abs(ours.astype(float) - theirs.astype(float)).mean() <= 20, name
        vectors = embedder.embed_crops(np.stack([ours, theirs]))
        assert float(vectors[0] @ vectors[1]) >= 0.9, name


def test_similarity_alignment_puts_landmarks_on_the_template(data, detector):
    image = load_image(data / "face_recognition/examples/obama.jpg")
    face = max(detector.detect(image), key=lambda f: f.confidence)
    aligned = align.similarity_align(image, face, 160, 32)
    assert aligned.shape == (160, 160, 3)
    again = max(detector.detect(aligned), key=lambda f: f.confidence)
    error = np.abs(np.asarray(again.landmarks) - align.template(160, 32)).max()
    assert error < 6  # pixels, after re-detecting landmarks on the aligned crop


@pytest.mark.parametrize("angle", [-25, 20])
def test_similarity_alignment_undoes_rotation(data, detector, angle):
    image = load_image(data / "face_recognition/examples/obama.jpg")
    h, w = image.shape[:2]
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h))
    crops = []
    for picture in (image, rotated):
        face = max(detector.detect(picture), key=lambda f: f.confidence)
        crops.append(align.similarity_align(picture, face, 160, 32))
    embedder = Embedder()
    vectors = embedder.embed_crops(np.stack(crops))
    assert float(vectors[0] @ vectors[1]) > 0.9
    eye_left, eye_right = max(detector.detect(crops[1]), key=lambda f: f.confidence).landmarks[:2]
    assert abs(eye_left[1] - eye_right[1]) < 5  # eyes level again


def test_degenerate_landmarks_fall_back_to_the_crop():
    image = np.full((100, 100, 3), 128, np.uint8)
    face = Face(box=(20, 20, 80, 80), confidence=1.0, landmarks=((50, 50),) * 5)
    assert align.similarity_align(image, face, 160, 0).shape == (160, 160, 3)
