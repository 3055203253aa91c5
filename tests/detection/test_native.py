"""facerec's C P-Net (native.py, pnet.c) against P-Net on ONNX Runtime and torch.

The kernel must give P-Net's maps within float32 rounding on every build this machine runs
(AVX-512, AVX2, baseline), for any level size and any cut into bands, and refuse bad input with a
clear error instead of reading outside its arrays.
"""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

from facerec.detection.mtcnn import area, boxes, native
from facerec.detection.mtcnn import detector as module
from facerec.images import load_image

KERNEL = native.kernel()
needs_kernel = pytest.mark.skipif(KERNEL is None, reason="the C kernel is not built on this platform")


def test_the_kernel_is_built_where_ci_runs():
    """CI (x86-64 Linux with GCC) installs with FACEREC_REQUIRE_KERNEL=1; this keeps a quiet
    fallback to ONNX Runtime from passing for the kernel."""
    if sys.platform == "linux" and platform.machine() == "x86_64":
        assert KERNEL is not None
        assert KERNEL.INSTRUCTION_SETS[-1] == "baseline" and KERNEL.INSTRUCTION_SETS[0] == KERNEL.INSTRUCTION_SET


@pytest.fixture(scope="module")
def network_pnet():
    return module.NetworkPNet(module.load_nets("onnx", roles=("pnet",))[0])


@pytest.fixture(scope="module")
def table(data):
    return area.summed_area_table(load_image(data / "facenet_pytorch/multiface.jpg"))


# Float32 rounding, as far as torch's P-Net and ONNX Runtime's differ from each other on SIZES
# (2.9e-6 and 5.2e-7 at most).
PROB_ATOL, REG_ATOL = 5e-6, 2e-6

# Level sizes: a large one, odd and even sides (P-Net's ceil-mode pooling), the 12-pixel minimum,
# and widths under one vector of AVX-512 lanes (16) and of AVX2's (8 + the 3x3 reach).
SIZES = [(649, 1153), (331, 589), (97, 173), (40, 41), (12, 12), (13, 18), (25, 14), (300, 21)]


@needs_kernel
@pytest.mark.parametrize("instruction_set", KERNEL.INSTRUCTION_SETS if KERNEL else [])
def test_maps_are_pnet_s_within_float32_rounding(instruction_set, network_pnet, table):
    kernel = native.PNet.load(instruction_set)
    assert kernel.instruction_set == instruction_set
    got = kernel.maps(table, SIZES)
    want = network_pnet.maps(table, SIZES)
    for size, (reg, prob), (want_reg, want_prob) in zip(SIZES, got, want, strict=True):
        assert reg.shape == want_reg.shape and prob.shape == want_prob.shape, size
        np.testing.assert_allclose(prob, want_prob, atol=PROB_ATOL, rtol=0, err_msg=str(size))
        np.testing.assert_allclose(reg, want_reg, atol=REG_ATOL, rtol=0, err_msg=str(size))
        assert prob.min() >= 0 and prob.max() <= 1


@needs_kernel
def test_maps_match_torch_on_a_photo_s_whole_pyramid(data):
    pixels = load_image(data / "face_recognition/examples/two_people.jpg")
    table = area.summed_area_table(pixels)
    sizes = [boxes.scaled_size(*pixels.shape[:2], s) for s in boxes.pyramid_scales(*pixels.shape[:2], 20, 0.709)]
    torch_pnet = module.NetworkPNet(module.load_nets("torch", roles=("pnet",))[0])
    for (reg, prob), (want_reg, want_prob) in zip(
        native.PNet.load().maps(table, sizes), torch_pnet.maps(table, sizes), strict=True
    ):
        np.testing.assert_allclose(prob, want_prob, atol=PROB_ATOL, rtol=0)
        np.testing.assert_allclose(reg, want_reg, atol=REG_ATOL, rtol=0)


@needs_kernel
def test_any_cut_into_bands_gives_the_same_bits(table):
    """Each output row is computed the same way whatever band holds it: workers change nothing."""
    from concurrent.futures import ThreadPoolExecutor

    kernel = native.PNet.load()
    whole = kernel.maps(table, SIZES)
    with ThreadPoolExecutor(2) as pool:
        for workers in (2, 3, 7):
            for got, want in zip(kernel.maps(table, SIZES, pool.map, workers), whole, strict=True):
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("rows,parts", [(1, 4), (31, 4), (64, 2), (100, 3), (649, 8)])
def test_bands_cover_the_rows_once(rows, parts):
    cut = native.bands(rows, parts)
    assert cut[0][0] == 0 and cut[-1][1] == rows and len(cut) <= parts
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(cut, cut[1:], strict=False))
    assert len(cut) == 1 or min(stop - start for start, stop in cut) >= native.MIN_BAND_ROWS


@needs_kernel
def test_bad_input_is_refused(table):
    kernel = native.PNet.load()
    with pytest.raises(ValueError, match="int32"):
        kernel.maps(table.astype(np.int64), [(40, 40)])
    rows, columns = table.shape[0] - 1, table.shape[1] - 1
    ys0, ys1 = area.bins(rows, 40)
    xs0, xs1 = area.bins(columns, 40)
    reg, prob = np.empty((1, 4, 15, 15), np.float32), np.empty((1, 15, 15), np.float32)
    call = KERNEL.pnet
    call(table, table.shape[1], ys0, ys1, xs0, xs1, kernel.weights, 0, 15, reg, prob)  # the good call
    unaligned = np.frombuffer(b"\0" + kernel.weights.tobytes(), np.float32, offset=1)
    outside = xs1.copy()
    outside[-1] = columns + 1
    bad = [
        ("not inside the summed-area table", (table, table.shape[1], ys0, ys1, xs0, outside, kernel.weights, 0, 15)),
        ("weights must be", (table, table.shape[1], ys0, ys1, xs0, xs1, kernel.weights[:-1], 0, 15)),
        ("not inside the output", (table, table.shape[1], ys0, ys1, xs0, xs1, kernel.weights, 3, 16)),
        ("12 to 2\\*\\*24 rows", (table, table.shape[1], ys0[:11], ys1[:11], xs0, xs1, kernel.weights, 0, 15)),
        ("rows x table_width", (table, table.shape[1] + 1, ys0, ys1, xs0, xs1, kernel.weights, 0, 15)),
        # a width whose product with 12 wraps around 2**64 to a plausible table size
        ("rows x table_width", (table[:10, :1].copy(), 2**62 + 1, ys0, ys1, xs0, xs1, kernel.weights, 0, 15)),
        ("aligned to 4 bytes", (table, table.shape[1], ys0, ys1, xs0, xs1, unaligned, 0, 15)),
    ]
    for message, arguments in bad:
        with pytest.raises(ValueError, match=message):
            call(*arguments, reg, prob)
    with pytest.raises(ValueError, match="outputs must be"):
        call(table, table.shape[1], ys0, ys1, xs0, xs1, kernel.weights, 0, 15, reg[:, :3].copy(), prob)
    with pytest.raises(ValueError, match="not one this machine runs"):
        call(table, table.shape[1], ys0, ys1, xs0, xs1, kernel.weights, 0, 15, reg, prob, "sse9")
    with pytest.raises(ValueError, match="not sse9"):
        native.PNet.load("sse9")


@needs_kernel
def test_packed_weights_are_cached_once_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    made = []
    original = native._packed_from_file
    monkeypatch.setattr(native, "_packed_from_file", lambda path: made.append(path) or original(path))
    first = native.PNet.load().weights
    second = native.PNet.load().weights
    assert len(made) == 1
    np.testing.assert_array_equal(first, second)
    (cached,) = (tmp_path / "facerec" / "kernels").iterdir()
    cached.write_bytes(b"damaged")  # a damaged cache is made again, not trusted
    np.testing.assert_array_equal(native.PNet.load().weights, first)
    assert len(made) == 2


def test_an_older_kernel_is_not_used_and_detection_finds_the_same_faces_without_it(monkeypatch, caplog, data):
    photo = load_image(data / "facenet_pytorch/multiface.jpg")
    with_kernel = module.MTCNN(backend="onnx").detect(photo)
    fake = type(sys)("_facerec_mtcnn")
    fake.KERNEL_VERSION = native.KERNEL_VERSION - 1
    monkeypatch.setitem(sys.modules, "_facerec_mtcnn", fake)
    native.kernel.cache_clear()
    try:
        assert native.kernel() is None and native.PNet.load() is None
        assert "reinstall facerec" in caplog.text
        detector = module.MTCNN(backend="onnx")
        assert isinstance(detector.pnet, module.NetworkPNet)  # P-Net, NMS and crops on ONNX Runtime and numpy
        without = detector.detect(photo)
    finally:
        native.kernel.cache_clear()
    assert len(without) == len(with_kernel) == 6
    for a, b in zip(without, with_kernel, strict=True):
        assert np.abs(np.subtract(a.box, b.box)).max() < 0.01 and abs(a.confidence - b.confidence) < 1e-5


@needs_kernel
def test_the_detector_uses_the_kernel_on_the_cpu_with_onnx_runtime():
    assert isinstance(module.MTCNN(backend="onnx").pnet, native.PNet)
    assert isinstance(module.MTCNN(backend="onnx", native_pnet=False).pnet, module.NetworkPNet)
    assert isinstance(module.MTCNN(backend="torch").pnet, module.NetworkPNet)


@needs_kernel
@pytest.mark.parametrize("size", [24, 48])
def test_crops_are_area_crops_normalised_bit_for_bit(size, table):
    rng = np.random.default_rng(size)
    rows, columns = table.shape[0] - 1, table.shape[1] - 1
    x0, y0 = rng.integers(0, columns - 1, 500), rng.integers(0, rows - 1, 500)
    # from one pixel (every bin the same) through fewer pixels than the crop's to hundreds
    side = np.minimum(rng.choice([1, 2, 7, 23, 24, 25, 47, 90, 400], 500), np.minimum(columns - x0, rows - y0))
    windows = np.stack([x0, y0, x0 + side, y0 + rng.integers(1, side + 1)], axis=1)
    windows[:, 3] = np.minimum(windows[:, 3], rows)
    got = np.empty((len(windows), 3, size, size), np.float32)
    KERNEL.crops(table, table.shape[1], windows, size, got)
    np.testing.assert_array_equal(got, module._normalise(area.crops(table, windows, size)))
    for bad in ([0, 0, 0, 5], [0, 0, 5, 0], [-1, 0, 5, 5], [0, 0, columns + 1, 5], [0, 0, 5, rows + 1]):
        with pytest.raises(ValueError, match="window 1 is empty or not inside"):
            KERNEL.crops(table, table.shape[1], np.array([[0, 0, 5, 5], bad]), size, got[:2].copy())
    with pytest.raises(ValueError, match="output"):
        KERNEL.crops(table, table.shape[1], windows, size, got[:2].copy())
    for width in (2**62, 2**62 + 1):  # 12 * width wraps around to 0 and to 12 bytes
        with pytest.raises(ValueError, match="rows x table_width"):
            KERNEL.crops(table[:10, :1].copy(), width, np.array([[0, 0, 10**12, 5]]), size, got[:1].copy())
