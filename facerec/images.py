"""Any image input -> an H x W x 3 uint8 RGB array, or an ImageError that says why not (and a
crop back to PNG bytes, the one encoding the store keeps crops in).

Everything downstream (detector, aligner, annotator) sees one pixel format, so every format
question (EXIF rotation, alpha, palettes, 16-bit, CMYK, size limits) is settled here, once.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facerec.errors import ImageError

DEFAULT_MAX_PIXELS = 64_000_000
# A file larger than this is not a photo (a 64-megapixel PNG of noise is about 200 MB).
MAX_FILE_BYTES = 512 * 2**20

ImageSource = str | os.PathLike | bytes | bytearray | np.ndarray | Image.Image


def image_paths(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The paths as given, with each folder replaced by every file under it (recursively, in name
    order): what every command and ``FaceRecognizer.enroll`` accept for "photos"."""
    found: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            found.extend(str(p) for p in sorted(Path(path).rglob("*")) if p.is_file())
        else:
            found.append(os.fspath(path))
    return found


def describe(source: ImageSource) -> str:
    """How an input is named in messages: the path as given, or its kind."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {'x'.join(map(str, source.shape))} {source.dtype}>"
    return f"<{type(source).__name__}>"


def load_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """Decode ``source`` into an RGB uint8 array (EXIF orientation applied).

    Raises ImageError naming the input (``name``, or :func:`describe`) and the reason for:
    missing or unreadable paths, empty, truncated or non-image files, unsupported array types,
    and images over ``max_pixels``.
    """
    name = name or describe(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, name, max_pixels)
    if isinstance(source, Image.Image):
        return _from_pil(source, name, max_pixels)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{name}: empty input (0 bytes)")
        return _decode(io.BytesIO(bytes(source)), name, max_pixels)
    if not isinstance(source, (str, os.PathLike)):
        raise ImageError(f"{name}: unsupported input type {type(source).__name__}")
    return _decode(io.BytesIO(read_image_file(source)), name, max_pixels)


def read_image_file(path: str | os.PathLike) -> bytes:
    """The bytes of an image file, or an ImageError: missing, a directory, empty, unreadable."""
    name = os.fspath(path)
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"{name}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        # /dev/zero would never end and a FIFO may never start: neither is a photo.
        raise ImageError(f"{name}: not a regular file (a device, a pipe or a socket), not an image file")
    if info.st_size == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageError(f"{name}: {info.st_size / 2**20:.0f} MB, larger than any photo ({MAX_FILE_BYTES >> 20} MB)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or exc})") from None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header, without decoding it; None if not recognised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _decode(stream: io.BytesIO, name: str, max_pixels: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
            _check_pixels(image.size, name, max_pixels)
            image.load()
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image too large (decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file (format not recognised)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason:
            reason = "truncated file (image data ends early)"
        raise ImageError(f"{name}: cannot decode image: {reason}") from None
    return _from_pil(image, name, max_pixels, owned=True)


def _check_pixels(size: tuple[int, int], name: str, max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: image is {width}x{height} ({width * height / 1e6:.1f} megapixels), over the "
            f"limit of {max_pixels / 1e6:g} megapixels (raise max_pixels to allow it)"
        )
    if width == 0 or height == 0:
        raise ImageError(f"{name}: image has no pixels ({width}x{height})")


def _rgb_array(image: Image.Image) -> np.ndarray:
    """An RGB image's pixels as a writeable array, copied band by band: ``np.asarray`` would go
    through a full-size bytes object first, a third copy of a 64 MP photo (192 MB) at its peak."""
    width, height = image.size
    pixels = np.empty((height, width, 3), np.uint8)
    rows = max(1, (1 << 22) // (3 * width))  # bands of about 4 MB
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows)))
        pixels[top : top + band.height] = np.frombuffer(band.tobytes(), np.uint8).reshape(band.height, width, 3)
    return pixels


def _from_pil(image: Image.Image, name: str, max_pixels: int, owned: bool = False) -> np.ndarray:
    """``owned``: the image is ours (decoded here), so it may be turned in place; otherwise even a
    photo that needs no turning would be copied whole."""
    _check_pixels(image.size, name, max_pixels)
    with contextlib.suppress(OSError, ValueError, SyntaxError):  # a broken EXIF block is no reason to fail
        if owned:
            ImageOps.exif_transpose(image, in_place=True)
        else:
            image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "RGB":
        return _rgb_array(image)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _from_array(np.asarray(image), name, max_pixels)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8).copy()
    try:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as exc:
        raise ImageError(f"{name}: unsupported image mode {mode} ({exc})") from None


def _to_uint8(pixels: np.ndarray, name: str) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * 255
    if pixels.dtype == np.uint16 or (pixels.dtype.kind in "iu" and pixels.max(initial=0) > 255):
        # 16-bit data: keep the high byte, the usual reduction to 8 bits.
        return (np.clip(pixels, 0, 65535).astype(np.uint32) >> 8).astype(np.uint8)
    if pixels.dtype.kind in "iu":
        return np.clip(pixels, 0, 255).astype(np.uint8)
    if pixels.dtype.kind == "f":
        if not np.isfinite(pixels).all():
            raise ImageError(f"{name}: float image holds NaN or infinite values")
        peak = float(pixels.max(initial=0.0))
        scale = 255.0 if peak <= 1.0 else 1.0  # floats in 0..1 are the common convention
        return np.clip(np.rint(pixels * scale), 0, 255).astype(np.uint8)
    raise ImageError(f"{name}: unsupported pixel type {pixels.dtype}")


def _from_array(pixels: np.ndarray, name: str, max_pixels: int) -> np.ndarray:
    """Arrays are taken as RGB (or grey, or RGBA) in their natural layout, H x W [x C]."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an H x W, H x W x 3 or H x W x 4 array")
    _check_pixels((pixels.shape[1], pixels.shape[0]), name, max_pixels)
    pixels = _to_uint8(pixels, name)
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:4].astype(np.float32) / 255.0
        blended = pixels[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.rint(blended).astype(np.uint8)
    return np.ascontiguousarray(pixels)


def png(crop: np.ndarray) -> bytes:
    """A crop as PNG: lossless, so a re-embedding sees the very pixels; the fastest zlib level,
    since level 6 cost 7 ms a crop (a tenth of enrolling a photo) for files only 10% smaller."""
    out = io.BytesIO()
    Image.fromarray(crop).save(out, "PNG", compress_level=1)
    return out.getvalue()
