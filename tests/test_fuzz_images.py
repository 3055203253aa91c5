"""The image loader fuzzed: mutated JPEG, PNG, GIF, WebP, TIFF and BMP bytes through load_image, the
CLI and the HTTP API give an image or ImageError / a 4xx; never another exception, a hang or a
blow-up of memory. Headers that claim huge sizes are refused before anything is decoded."""

from __future__ import annotations

import io
import random
import resource
import struct
import time
import zlib

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from server_process import ServerProcess
from typer.testing import CliRunner

from facerec.errors import ImageError
from facerec.images import load_image
from facerec.interfaces import cli

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP")
SECONDS_PER_IMAGE = 5.0
MEMORY_BOUND = 1 << 30  # above the peak before fuzzing, over the whole run


def _seed(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    pixels = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


SEEDS = {fmt: _seed(fmt) for fmt in FORMATS}


@st.composite
def mutated(draw) -> bytes:
    """A valid image of one format, then a few of: bytes overwritten, a cut, junk inserted, a
    stretch repeated."""
    data = bytearray(SEEDS[draw(st.sampled_from(FORMATS))])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "cut", "insert", "repeat")))
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
            if not data:
                data = bytearray(b"\x00")
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 256))] * draw(st.integers(1, 8))
    return bytes(data)


def _mutate(rng: random.Random) -> bytes:
    """One mutation as the strategy makes them, from a seeded generator (for the slower paths)."""
    data = bytearray(SEEDS[rng.choice(FORMATS)])
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data))
        kind = rng.choice(("flip", "cut", "insert"))
        if kind == "flip":
            data[at] = rng.randrange(256)
        elif kind == "cut":
            data = data[: max(at, 1)]
        else:
            data[at:at] = rng.randbytes(rng.randint(1, 64))
    return bytes(data)


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


BEFORE = {"peak": 0}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_load_image_gives_an_image_or_an_image_error(data):
    BEFORE["peak"] = BEFORE["peak"] or _peak()
    started = time.monotonic()
    try:
        pixels = load_image(data)
    except ImageError as exc:
        assert str(exc)
    else:
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert time.monotonic() - started < SECONDS_PER_IMAGE
    assert _peak() - BEFORE["peak"] < MEMORY_BOUND


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(100_000, 100_000), (2**31 - 1, 1), (65_535, 65_535)])
def test_a_header_claiming_a_huge_image_is_refused_before_decoding(size):
    started = time.monotonic()
    with pytest.raises(ImageError, match="megapixels|too large"):
        load_image(_png(*size))
    assert time.monotonic() - started < 1.0


def test_mutated_images_through_the_cli_and_the_api(tmp_path, data):
    """A sample of mutations each way: the CLI exits 0 or 1 with a message (no traceback), the
    API answers 200 or 4xx."""
    samples = [_mutate(random.Random(i)) for i in range(24)]
    runner = CliRunner()
    for i, sample in enumerate(samples[:8]):
        path = tmp_path / f"m{i}.img"
        path.write_bytes(sample)
        result = runner.invoke(cli.app, ["detect", str(path)])
        assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output[-500:]
        assert result.exception is None or isinstance(result.exception, SystemExit)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    key = runner.invoke(cli.app, ["--db", url, "apikey", "create", "fuzz", "--role", "read"]).stdout.strip()
    server = ServerProcess(url, log=tmp_path / "server.log")
    try:
        client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60)
        for sample in samples:
            answer = client.post("/v1/detect", files={"image": sample})
            assert answer.status_code in (200, 413, 415, 422), (answer.status_code, answer.text[:200])
            assert answer.headers["content-type"] == "application/json"
        assert client.get("/health").json()["status"] == "ok"
    finally:
        server.stop()
