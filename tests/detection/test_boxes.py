"""Box maths, checked without any network: NMS against a brute-force definition, geometry by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.detection.mtcnn import boxes, native


def _overlap(a: np.ndarray, b: np.ndarray, mode: str, offset: float) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + offset)
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + offset)
    inter = iw * ih
    area_a = (a[2] - a[0] + offset) * (a[3] - a[1] + offset)
    area_b = (b[2] - b[0] + offset) * (b[3] - b[1] + offset)
    return inter / (min(area_a, area_b) if mode == "min" else area_a + area_b - inter)


def _reference_nms(b: np.ndarray, s: np.ndarray, threshold: float, mode: str, offset: float) -> list[int]:
    """The textbook greedy loop, one box at a time."""
    order = sorted(range(len(b)), key=lambda i: (-s[i], i))
    keep: list[int] = []
    for i in order:
        if all(_overlap(b[i], b[k], mode, offset) <= threshold for k in keep):
            keep.append(i)
    return keep


box_sets = st.integers(min_value=0, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(1, 80), st.integers(1, 80)),
            min_size=n,
            max_size=n,
        ),
        st.lists(st.integers(0, 1000), min_size=n, max_size=n),
    )
)


@settings(max_examples=300, deadline=None)
@given(
    box_sets,
    st.sampled_from([0.3, 0.5, 0.7]),
    st.sampled_from(["union", "min"]),
    st.sampled_from([0.0, 1.0]),
    st.sampled_from([1, 3, 7, 1024]),
)
def test_nms_matches_greedy_definition(data, threshold, mode, offset, block):
    raw, raw_scores = data
    b = np.array([[x, y, x + w, y + h] for x, y, w, h in raw], dtype=np.float32).reshape(-1, 4)
    s = np.array(raw_scores, dtype=np.float32) / 1000
    expected = _reference_nms(b, s, threshold, mode, offset)
    assert boxes.nms(b, s, threshold, mode=mode, pixel_offset=offset).tolist() == expected  # C where built
    order = sorted(range(len(b)), key=lambda i: (-s[i], i))
    alive = boxes.greedy_blocks(np.ascontiguousarray(b[order]), threshold, mode, offset, block=block)
    assert [order[i] for i in np.nonzero(alive)[0]] == expected


@pytest.mark.skipif(native.kernel() is None, reason="the C kernel is not built on this platform")
@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.7])
@pytest.mark.parametrize("mode", ["union", "min"])
def test_the_kernel_keeps_numpy_s_boxes_bit_for_bit(threshold, mode):
    """Float boxes crowded like P-Net's candidates, many overlaps within float32 rounding of the
    threshold (0.1 is above its float32 rounding, 0.7 below): C and numpy keep the same boxes."""
    rng = np.random.default_rng(int(threshold * 10) + len(mode))
    for _ in range(20):
        n = int(rng.integers(1, 1500))
        corner = rng.uniform(0, 300, (n, 2))
        side = rng.uniform(0, 60, (n, 1)) * rng.uniform(0.8, 1.25, (n, 2))
        ordered = np.ascontiguousarray(np.concatenate([corner, corner + side], axis=1), dtype=np.float32)
        whole = rng.random(n) < 0.3  # P-Net's boxes before regression are whole pixels
        ordered[whole] = np.floor(ordered[whole])
        ordered[rng.random(n) < 0.01, int(rng.integers(4))] = np.nan  # a network's output gone wrong
        for offset in (0.0, 1.0):
            keep = np.empty(n, np.uint8)
            native.kernel().nms_keep(ordered, threshold, mode == "min", offset, keep)
            np.testing.assert_array_equal(keep.view(bool), boxes.greedy_blocks(ordered, threshold, mode, offset))


def test_nms_keeps_best_of_overlapping_pair_and_distant_box():
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    s = np.array([0.8, 0.9, 0.7], dtype=np.float32)
    assert boxes.nms(b, s, 0.5).tolist() == [1, 2]


def test_nms_tie_order():
    b = np.array([[0, 0, 10, 10], [1, 0, 11, 10]], dtype=np.float32)
    s = np.array([1.0, 1.0], dtype=np.float32)
    assert boxes.nms(b, s, 0.5, ties="first").tolist() == [0]


def test_batched_nms_never_suppresses_across_groups():
    b = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    s = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    kept = boxes.batched_nms(b, s, np.array([0, 1, 0]), 0.5)
    assert sorted(kept.tolist()) == [0, 1]


def test_empty_inputs():
    empty = np.zeros((0, 4), np.float32)
    assert boxes.nms(empty, np.zeros(0), 0.5).size == 0
    assert boxes.batched_nms(empty, np.zeros(0), np.zeros(0, int), 0.5).size == 0


def test_square_keeps_centre_and_uses_longer_side():
    out = boxes.square(np.array([[10, 20, 30, 60]], dtype=np.float32))[0]
    assert out.tolist() == [0.0, 20.0, 40.0, 60.0]


def test_regress_scales_offsets_by_width_plus_one():
    b = np.array([[10, 10, 19, 29]], dtype=np.float32)  # 10 x 20 pixels, counted inclusively
    out = boxes.regress(b, np.array([[0.1, -0.1, 0.2, 0.5]], dtype=np.float32))[0]
    assert out == pytest.approx([11.0, 8.0, 21.0, 39.0])


def test_crop_windows_clip_to_image_and_detect_empty():
    w = boxes.crop_windows(np.array([[-5.7, -3.2, 50.9, 40.0], [120, 5, 130, 9]], dtype=np.float32), 100, 30)
    assert w.tolist() == [[0, 0, 50, 30], [119, 4, 100, 9]]  # second window is empty (x1 <= x0)


def test_pyramid_stops_before_windows_smaller_than_pnet():
    scales = boxes.pyramid_scales(250, 250, 20, 0.709)
    assert scales[0] == pytest.approx(0.6)
    assert min(250, 250) * scales[-1] >= 12 > min(250, 250) * scales[-1] * 0.709
    assert boxes.pyramid_scales(19, 400, 20, 0.709) == []


def test_pnet_candidates_map_cells_to_image_windows():
    prob = np.zeros((3, 4), np.float32)
    prob[1, 2] = 0.9
    reg = np.zeros((4, 3, 4), np.float32)
    reg[:, 1, 2] = [0.1, 0.2, 0.3, 0.4]
    found, scores, regs = boxes.pnet_candidates(reg, prob, 0.5, 0.6)
    # cell (row 1, col 2) -> stride 2, 12 px window, at scale 0.5: x (2*2+1)/0.5 = 10, y 3/0.5 = 6
    assert found.tolist() == [[10.0, 6.0, 32.0, 28.0]]
    assert scores.tolist() == pytest.approx([0.9])
    assert regs.tolist() == [pytest.approx([0.1, 0.2, 0.3, 0.4])]
