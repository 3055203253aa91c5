"""The detector's own behaviour: batches, sizes, empty images, result shape, settings."""

from __future__ import annotations

import numpy as np
import pytest

from facerec import Face, FacerecError, FaceRecognizer
from facerec.detection.mtcnn import DetectorConfig
from facerec.images import load_image
from facerec.types import LANDMARK_NAMES


def test_batch_of_different_sizes_equals_one_by_one(detector, data):
    paths = [
        data / "face_recognition/examples/two_people.jpg",
        data / "facenet_pytorch/multiface.jpg",
        data / "faceapi_bbt/test_images/white.png",
        data / "lfw_fold1/lfw/Casey_Mears/Casey_Mears_0001.jpg",
    ]
    images = [load_image(p) for p in paths]
    assert len({im.shape for im in images}) == len(images)
    batched = detector.detect_batch(images)
    single = [detector.detect(im) for im in images]
    assert [len(faces) for faces in batched] == [2, 6, 0, 1]
    for got, want in zip(batched, single, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.box == pytest.approx(b.box, abs=1e-3)
            assert a.confidence == pytest.approx(b.confidence, abs=1e-6)


def test_group_photo_finds_every_face_most_confident_first(detector, data):
    faces = detector.detect(load_image(data / "facenet_pytorch/multiface.jpg"))
    assert len(faces) == 6
    confidences = [f.confidence for f in faces]
    assert confidences == sorted(confidences, reverse=True)
    for face in faces:
        x1, y1, x2, y2 = face.box
        (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face.landmarks
        assert x1 < lx < rx < x2 and y1 < ly < ny < mly < y2  # eyes left to right, above nose, above mouth
        assert mlx < mrx


def test_no_face_and_tiny_images(detector, data):
    assert detector.detect(load_image(data / "faceapi_bbt/test_images/white.png")) == []
    assert detector.detect(np.zeros((10, 300, 3), np.uint8)) == []  # shorter than the smallest face
    assert detector.detect_batch([]) == []


def test_faces_at_the_edge_are_not_clipped(detector, data):
    image = load_image(data / "face_recognition/examples/two_people.jpg")
    x1, y1, x2, y2 = (round(v) for v in detector.detect(image)[0].box)
    h = y2 - y1
    shifted = np.ascontiguousarray(image[y1 + h // 3 :, :])  # cut the top third of a face away
    faces = detector.detect(shifted)
    assert any(f.box[1] < 0 for f in faces)


def test_to_dict_has_the_ipazc_shape():
    face = Face(box=(10.0, 20.0, 50.0, 80.0), confidence=0.99, landmarks=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10)))
    d = face.to_dict()
    assert d["box"] == [10.0, 20.0, 40.0, 60.0]
    assert d["confidence"] == 0.99
    assert list(d["keypoints"]) == list(LANDMARK_NAMES)
    assert d["keypoints"]["nose"] == [5, 6]


def test_min_face_size_changes_what_is_searched(data):
    image = load_image(data / "facenet_pytorch/multiface.jpg")
    # The pyramid starts at 12 / min_face_size; MTCNN still finds faces a little below that size.
    assert len(FaceRecognizer(detector=DetectorConfig(min_face_size=150)).detect(image)) == 5
    assert FaceRecognizer(detector=DetectorConfig(min_face_size=400)).detect(image) == []


@pytest.mark.parametrize(
    "kwargs", [{"min_face_size": 0}, {"scale_factor": 1.0}, {"thresholds": (0.6, 0.7)}, {"thresholds": (0.6, 0.7, 2)}]
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(FacerecError):
        DetectorConfig(**kwargs)


def test_recognizer_accepts_every_input_kind(data):
    path = data / "face_recognition/examples/obama.jpg"
    recognizer = FaceRecognizer(detector=DetectorConfig())  # MTCNN's 20 px, as the reference searched
    from_path = recognizer.detect(path)
    assert len(from_path) == 2  # Obama (0.9997) and a weak false positive (0.815), as in the reference
    # From recognition's default 40 px, that 0.815 false positive (from the largest level) is gone.
    assert [round(f.confidence, 3) for f in FaceRecognizer().detect(path)] == [0.999]
    assert recognizer.detect(path.read_bytes())[0].box == pytest.approx(from_path[0].box)
    assert [len(f) for f in recognizer.detect_many([str(path), load_image(path)])] == [2, 2]


@pytest.mark.parametrize("backend", ["onnx", "torch"])
@pytest.mark.parametrize("height", [12, 13, 40, 41, 250, 649])
def test_pnet_output_rows_formula(height, backend):
    from facerec.detection.mtcnn.detector import load_nets
    from facerec.detection.mtcnn.native import output_side

    pnet = load_nets(backend)[0]
    _, prob = pnet(np.zeros((1, 3, height, 20), np.float32))
    assert prob.shape[1] == output_side(height)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
@pytest.mark.parametrize("height,width", [(649, 700), (431, 960), (301, 1400)])
def test_pnet_in_strips_equals_one_pass(height, width, backend):
    from facerec.detection.mtcnn import detector as module

    pnet = module.load_nets(backend)[0]
    level = np.random.default_rng(height).uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
    whole_reg, whole_prob = pnet(level)
    asked = []

    def rows(start, stop):
        asked.append((start, stop))
        return level[:, :, start:stop]

    reg, prob = module._pnet_forward(pnet, rows, height, width, module.Strips(pixels=1000, rows=37))
    assert len(asked) > 1 and max(stop - start for start, stop in asked) <= 2 * 37 + 10  # strips, never whole
    assert prob.shape == whole_prob.shape and reg.shape == whole_reg.shape
    np.testing.assert_allclose(prob, whole_prob, atol=1e-6, rtol=0)
    np.testing.assert_allclose(reg, whole_reg, atol=1e-5, rtol=0)


def test_onet_a_few_crops_at_a_time_equals_whole_chunks(data):
    """ONNX Runtime's O-Net batch (CPU_ONET_BATCH) changes no bit of what stage 3 keeps: same
    boxes, scores and landmarks, including a last batch shorter than the rest (3 does not divide
    the chunks)."""
    from facerec.detection.mtcnn import area
    from facerec.detection.mtcnn import detector as module

    pixels = load_image(data / "detection_gt/bald_guys.jpg")
    image = module._Image(pixels.shape[0], pixels.shape[1], area.summed_area_table(pixels))
    pnet, rnet, onet = module.load_nets("onnx")
    config = DetectorConfig()
    found, scores = module.propose(module.NetworkPNet(pnet), image, config)
    candidates = module._Candidates(found, scores, np.zeros(len(found), np.int64))
    candidates = module.refine(rnet, [image], candidates, config.thresholds[1])
    assert len(candidates.boxes) > 2 * module.CROP_CHUNK  # several chunks, each in many batches
    whole, whole_landmarks = module.output(onet, [image], candidates, config.thresholds[2])
    batched, batched_landmarks = module.output(onet, [image], candidates, config.thresholds[2], batch=3)
    assert len(whole.boxes) >= 10
    for got, want in (
        (batched.boxes, whole.boxes),
        (batched.scores, whole.scores),
        (batched_landmarks, whole_landmarks),
    ):
        np.testing.assert_array_equal(got, want)


def test_a_photo_over_the_detection_limit_is_answered_at_full_size(detector, data):
    """A 12 MP photo (over DETECT_MAX_PIXELS) has no table of its own, yet its faces come back in
    its own pixels: where the same scene, small enough to be searched whole, puts them, scaled up.
    (test_large_photos.py holds such photos to facenet-pytorch's cascade.)"""
    import cv2

    from facerec.detection.mtcnn import detector as module
    from facerec.detection.mtcnn.area import DETECT_MAX_PIXELS

    small = load_image(data / "face_recognition/examples/two_people.jpg")
    factor = 4000 / small.shape[1]
    large = cv2.resize(small, (4000, round(small.shape[0] * factor)), interpolation=cv2.INTER_LINEAR)
    assert large.shape[0] * large.shape[1] > DETECT_MAX_PIXELS >= small.shape[0] * small.shape[1]
    assert module._Image.of(large).table is None and module._Image.of(small).table is not None
    found, expected = detector.detect(large), detector.detect(small)
    # The photo's two people; scaled up, a small face at the bottom becomes confident too.
    assert len(expected) == 2 and len(found) == 3
    for want in expected:
        got = min(found, key=lambda f: np.abs(np.subtract(f.box, np.multiply(want.box, factor))).max())
        # MTCNN is not scale-invariant: facenet-pytorch's cascade on the large photo itself puts
        # one chin 10% of the face lower than the small photo's, scaled up.
        width = want.width * factor
        assert np.abs(np.subtract(got.box, np.multiply(want.box, factor))).max() < 0.12 * width
        assert np.abs(np.subtract(got.landmarks, np.multiply(want.landmarks, factor))).max() < 0.08 * width
