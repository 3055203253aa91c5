"""Every kind of input becomes RGB uint8, or an ImageError that names the input and the reason."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facerec.errors import ImageError
from facerec.images import load_image


def _save(tmp_path: Path, name: str, image: Image.Image, **kwargs) -> Path:
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def _gradient(width: int = 40, height: int = 20) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (height, 1)), np.full((height, width), 80, np.uint8), np.tile(x[::-1], (height, 1))], 2)
    return rgb


# --- inputs that must fail -------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")


def test_directory(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    data = io.BytesIO()
    Image.fromarray(_gradient(200, 200)).save(data, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg: .*truncated"):
        load_image(path)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n" * 10)
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image file"):
        load_image(path)


def test_unreadable_path_component(tmp_path):
    plain = tmp_path / "file.txt"
    plain.write_text("x")
    with pytest.raises(ImageError, match=r"file\.txt/inside\.jpg: "):
        load_image(plain / "inside.jpg")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # 10000 x 10000 one-bit PNG: a few kB on disk, 100 megapixels once decoded.
    path = _save(tmp_path, "bomb.png", Image.new("1", (10_000, 10_000)))
    assert path.stat().st_size < 100_000
    with pytest.raises(
        ImageError, match=r"bomb\.png: image is 10000x10000 \(100\.0 megapixels\), over the limit of 64"
    ):
        load_image(path)


def test_pixel_limit_is_configurable(tmp_path):
    path = _save(tmp_path, "small.png", Image.new("RGB", (100, 100)))
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(ImageError, match="over the limit"):
        load_image(path, max_pixels=9_999)
    with pytest.raises(ImageError, match="over the limit"):
        load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=9_999)


def test_empty_bytes_and_bad_arrays():
    with pytest.raises(ImageError, match="empty input"):
        load_image(b"")
    with pytest.raises(ImageError, match="expected an H x W"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="unsupported pixel type"):
        load_image(np.zeros((4, 4, 3), np.complex64))
    with pytest.raises(ImageError, match="unsupported input type"):
        load_image(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["truncated.jpg", "corrupted.png", "empty.png"])
def test_shared_bad_inputs(data, name):
    with pytest.raises(ImageError, match=name):
        load_image(data / "bad_inputs" / name)


# --- inputs that must load -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["einstein.bmp", "einstein.gif", "einstein.jpeg", "einstein.png", "einstein.tiff", "einstein.webp"]
)
def test_shared_formats_load_as_rgb(data, name):
    pixels = load_image(data / "bad_inputs" / name)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


def test_exif_orientation_is_applied(tmp_path):
    rgb = _gradient(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    path = _save(tmp_path, "rotated.jpg", Image.fromarray(rgb), exif=exif, quality=100)
    pixels = load_image(path)
    assert pixels.shape == (40, 20, 3)
    # After turning clockwise, the stored left column (red 0) is at the top.
    assert pixels[0, :, 0].mean() < 30 and pixels[-1, :, 0].mean() > 225


def test_grayscale(tmp_path):
    path = _save(tmp_path, "grey.png", Image.fromarray(np.full((8, 9), 77, np.uint8)))
    pixels = load_image(path)
    assert pixels.shape == (8, 9, 3) and (pixels == 77).all()


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(tmp_path, mode):
    image = Image.new(mode, (4, 2), (0, 0) if mode == "LA" else (0, 0, 0, 0))
    image.putpixel((1, 0), (0, 255) if mode == "LA" else (0, 0, 0, 255))
    image.putpixel((2, 0), (0, 128) if mode == "LA" else (0, 0, 0, 128))
    pixels = load_image(_save(tmp_path, f"{mode}.png", image))
    assert (pixels[1, 0] == 255).all()  # transparent -> white
    assert (pixels[0, 1] == 0).all()  # opaque black stays black
    assert 120 <= pixels[0, 2, 0] <= 135  # half transparent black -> mid grey


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    image.putpixel((2, 0), 1)
    path = _save(tmp_path, "pal.png", image, transparency=0)
    pixels = load_image(path)
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels[0, 1].tolist() == [0, 0, 255]


def test_16_bit_grey_png(tmp_path):
    values = np.array([[0, 256, 40000, 65535]], dtype=np.uint16)
    path = _save(tmp_path, "deep.png", Image.fromarray(values))
    assert Image.open(path).mode.startswith("I")
    pixels = load_image(path)
    assert pixels[0, :, 0].tolist() == [0, 1, 156, 255]


def test_16_bit_rgb_png(tmp_path):
    values = np.zeros((2, 2, 3), np.uint16)
    values[0, 0] = [65535, 32768, 256]  # RGB
    path = tmp_path / "deep_rgb.png"
    cv2.imwrite(str(path), values[:, :, ::-1].copy())  # OpenCV writes 48-bit PNGs from BGR
    pixels = load_image(path)
    assert pixels.dtype == np.uint8
    assert pixels[0, 0].tolist() == [255, 128, 1]


def test_cmyk_jpeg(tmp_path):
    path = _save(tmp_path, "cmyk.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)), quality=100)
    assert Image.open(path).mode == "CMYK"
    pixels = load_image(path)
    r, g, b = pixels[4, 4].tolist()
    assert r > 200 and g < 60 and b < 60  # no cyan, full magenta + yellow: red


def test_bytes_array_and_pil_inputs(tmp_path):
    rgb = _gradient()
    path = _save(tmp_path, "g.png", Image.fromarray(rgb))
    assert (load_image(path.read_bytes()) == rgb).all()
    assert (load_image(Image.fromarray(rgb)) == rgb).all()
    assert (load_image(rgb) == rgb).all()
    assert (load_image(str(path)) == rgb).all()
    assert (load_image(rgb[:, :, 0]) == rgb[:, :, :1]).all()
    assert (load_image(rgb.astype(np.float32) / 255.0) == rgb).all()
