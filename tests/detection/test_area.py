"""Summed-area resampling must equal PyTorch's area interpolation bit for bit (the reference's resize)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.detection.mtcnn import area


def _torch_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=(height, width), mode="area")[0].numpy()  # channel-first, like ours


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 90), st.integers(1, 90), st.integers(2, 120), st.integers(2, 120), st.integers(0, 2**31 - 1))
def test_resize_equals_torch_area_interpolation(src_h, src_w, dst_h, dst_w, seed):
    # (A 1 x 1 output takes a different path in PyTorch, a plain mean; the cascade never asks for one.)
    image = np.random.default_rng(seed).integers(0, 256, (src_h, src_w, 3), dtype=np.uint8)
    ours = area.resize(area.summed_area_table(image), dst_h, dst_w)
    np.testing.assert_array_equal(ours, _torch_area(image, dst_h, dst_w))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([24, 48]))
def test_crops_equal_torch_area_interpolation_of_each_window(seed, size):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    windows = []
    for _ in range(12):
        x0, y0 = int(rng.integers(0, 89)), int(rng.integers(0, 69))
        windows.append([x0, y0, int(rng.integers(x0 + 1, 91)), int(rng.integers(y0 + 1, 71))])
    ours = area.crops(area.summed_area_table(image), np.array(windows), size)
    for (x0, y0, x1, y1), crop in zip(windows, ours, strict=True):
        np.testing.assert_array_equal(crop, _torch_area(np.ascontiguousarray(image[y0:y1, x0:x1]), size, size))


def test_crops_of_nothing():
    table = area.summed_area_table(np.zeros((5, 5, 3), np.uint8))
    assert area.crops(table, np.zeros((0, 4), np.int64), 24).shape == (0, 3, 24, 24)


# --- without a table of the whole image (photos past DETECT_MAX_PIXELS) ------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(12, 300), st.integers(12, 300), st.integers(0, 2**31 - 1), st.data())
def test_levels_made_from_the_photo_equal_those_from_its_table(src_h, src_w, seed, draw):
    """area.level (a level, or some of its rows, summed from the photo in parts) gives resize's bits."""
    image = np.random.default_rng(seed).integers(0, 256, (src_h, src_w, 3), dtype=np.uint8)
    height, width = draw.draw(st.integers(1, src_h)), draw.draw(st.integers(1, src_w))
    start = draw.draw(st.integers(0, height - 1))
    stop = draw.draw(st.integers(start + 1, height))
    whole = area.resize(area.summed_area_table(image), height, width)
    np.testing.assert_array_equal(area.level(image, height, width), whole)
    np.testing.assert_array_equal(area.level(image, height, width, (start, stop)), whole[:, start:stop])


def test_crops_cut_from_the_photo_equal_those_from_its_table(data, monkeypatch):
    """area.window_crops gives crops' bits for windows smaller and larger than the crop, at the
    image's edges, and larger than CROP_TABLE_PIXELS (cut from sums, not a table of their own:
    checked both ways by lowering the bound)."""
    from facerec.images import load_image

    image = load_image(data / "face_recognition/examples/obama-1080p.jpg")
    table = area.summed_area_table(image)
    windows = np.array(
        [[0, 0, 1920, 1080], [881, 96, 1118, 421], [10, 20, 30, 44], [100, 100, 101, 103], [1900, 1070, 1920, 1080]]
    )
    for size in (24, 48):
        want = area.crops(table, windows, size)
        np.testing.assert_array_equal(area.window_crops(image, windows, size), want)
        monkeypatch.setattr(area, "CROP_TABLE_PIXELS", 0)
        np.testing.assert_array_equal(area.window_crops(image, windows, size), want)
        monkeypatch.undo()
