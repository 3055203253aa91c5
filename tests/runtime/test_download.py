"""Downloading a model for real, from an HTTP server on 127.0.0.1: good, wrong, cut short, offline."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from facerec.errors import WeightsError
from facerec.runtime import weights

PAYLOAD = os.urandom(3 * (1 << 20) + 123)  # a few blocks, not a round number
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/truncated.pt":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path not in ("/good.pt", "/other.pt"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _spec(url: str, sha: str = SHA) -> weights.WeightFile:
    return weights.WeightFile(path="inception_resnet_v1/test-model.pt", sha256=sha, size=len(PAYLOAD), url=url)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_good_download_lands_whole_with_progress(server, tmp_path):
    seen = []
    target = tmp_path / "model.pt"
    weights.download(_spec(f"{server}/good.pt"), target, progress=lambda done, total: seen.append((done, total)))
    assert target.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["model.pt"]
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) >= 3


def test_wrong_hash_is_rejected_and_nothing_is_left(server, tmp_path):
    with pytest.raises(WeightsError, match="has sha256 .* expected 0000"):
        weights.download(_spec(f"{server}/other.pt", sha="0" * 64), tmp_path / "model.pt", progress=lambda d, t: None)
    assert _leftovers(tmp_path) == []


def test_truncated_transfer_is_rejected_and_nothing_is_left(server, tmp_path):
    with pytest.raises(WeightsError, match="could not download|stopped after"):
        weights.download(_spec(f"{server}/truncated.pt"), tmp_path / "model.pt", progress=lambda d, t: None)
    assert _leftovers(tmp_path) == []


def test_offline_says_which_file_to_put_where(tmp_path):
    with pytest.raises(WeightsError) as info:
        weights.download(_spec("http://127.0.0.1:9/absent.pt"), tmp_path / "m" / "model.pt", progress=lambda d, t: None)
    message = str(info.value)
    assert "http://127.0.0.1:9/absent.pt" in message
    assert f"put it at {tmp_path / 'm' / 'model.pt'}" in message and "FACEREC_WEIGHTS_DIR" in message
    assert _leftovers(tmp_path) == []


def test_locate_downloads_into_the_cache_once(server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    spec = _spec(f"{server}/good.pt")
    path = weights.locate(spec)
    assert path == tmp_path / "cache" / "facerec" / "weights" / spec.path
    assert path.read_bytes() == PAYLOAD
    # Found in the cache the second time: an unreachable URL no longer matters.
    assert weights.locate(weights.WeightFile(spec.path, SHA, len(PAYLOAD), "http://127.0.0.1:9/x")) == path


def test_vggface2_without_network_names_the_file_and_the_place(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    spec = weights.model_spec("vggface2").files["weights"]
    offline = weights.WeightFile(spec.path, spec.sha256, spec.size, "http://127.0.0.1:9/20180402-114759-vggface2.pt")
    with pytest.raises(WeightsError, match="20180402-114759-vggface2.pt"):
        weights.locate(offline)


def test_hashes_are_remembered_across_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "m.pt"
    model.write_bytes(PAYLOAD)
    assert weights.sha256_of(model) == SHA
    weights._sha256_of.cache_clear()  # as a new process would start

    def no_hashing(path):
        raise AssertionError("hashed again")

    monkeypatch.setattr(weights, "_hash_file", no_hashing)
    assert weights.sha256_of(model) == SHA
    model.write_bytes(PAYLOAD + b"changed")  # new size and mtime: must be hashed anew
    with pytest.raises(AssertionError, match="hashed again"):
        weights.sha256_of(model)
