"""int8 FaceNet on ONNX Runtime: how close to fp32 it stays, where it runs, and what happens when
its shipped activation ranges do not fit (accuracy on LFW fold 1: tests/interfaces/test_recognition_cli.py)."""

from __future__ import annotations

import dataclasses
import io
import logging

import numpy as np
import pytest

from facerec.embedding import embedder as embedder_module
from facerec.embedding.embedder import Embedder, resolve_precision
from facerec.errors import FacerecError, WeightsError
from facerec.runtime import onnx_backend, quantize, weights


@pytest.fixture(scope="module")
def stored_crops(reference):
    data = np.load(reference / "irv1_casia_embeddings.npz")
    return data["crops_inputs"], data["crops_embeddings"]


def test_int8_stays_within_cosine_0_995_of_facenet_pytorch(stored_crops):
    """fp32 reproduces facenet-pytorch to 1e-4; int8 measured 0.998 at worst on LFW fold 1's 807 faces."""
    inputs, theirs = stored_crops
    embedder = Embedder(precision="int8")
    assert embedder.precision == "int8" and embedder.backend == "onnx"
    ours = embedder.network(inputs)[0]
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    cosine = np.sum(ours * theirs, axis=1)
    assert cosine.min() > 0.995, cosine
    assert np.abs(ours - theirs).max() > 1e-4  # it really is another graph than fp32's


def test_auto_is_int8_on_onnx_runtime_where_the_model_ships_ranges_and_fp32_elsewhere():
    spec = weights.model_spec(weights.default_model())
    assert "int8_ranges" in spec.files
    assert Embedder().precision == "int8"
    assert Embedder(backend="torch").precision == "fp32"
    without = dataclasses.replace(spec, files={k: v for k, v in spec.files.items() if k != "int8_ranges"})
    assert resolve_precision("auto", "onnx", without) == "fp32"
    with pytest.raises(FacerecError, match="has no int8 activation ranges"):
        resolve_precision("int8", "onnx", without)


def test_int8_is_refused_where_it_cannot_run():
    with pytest.raises(FacerecError, match="int8 precision runs on ONNX Runtime"):
        Embedder(precision="int8", backend="torch")
    with pytest.raises(FacerecError, match="unknown precision 'fp8'; use auto, fp32, bf16, int8"):
        Embedder(precision="fp8")


def test_the_quantized_graph_is_cached_and_read_without_quantizing_again(monkeypatch, stored_crops):
    first = Embedder(precision="int8").network(stored_crops[0])[0]
    cached = list(onnx_backend.onnx_cache_dir().glob("facenet-*-int8-*.onnx"))
    assert len(cached) == 1 and cached[0].stat().st_size < 30_000_000  # a quarter of fp32's 94 MB

    def refuse(*args):
        raise AssertionError("quantized again")

    monkeypatch.setattr(quantize, "quantize", refuse)
    again = Embedder(precision="int8", threads=1).network(stored_crops[0])[0]  # a new session, same file
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_ranges_that_do_not_fit_the_export_are_an_error_or_for_auto_fp32(monkeypatch, caplog):
    monkeypatch.setattr(quantize, "QUANTIZE_VERSION", 999)  # a graph name nothing has cached
    monkeypatch.setattr(quantize, "read_ranges", lambda path: {"/not/a/tensor_output_0": (0.0, 1.0)})
    with pytest.raises(WeightsError, match="int8 ranges do not fit this ONNX export .* --precision fp32"):
        Embedder(precision="int8")
    with caplog.at_level(logging.WARNING, logger=embedder_module.__name__):
        fallback = Embedder()
    assert fallback.precision == "fp32" and "embedding in fp32" in caplog.text
    assert not list(onnx_backend.onnx_cache_dir().glob("facenet-*-q999-*.onnx"))  # nothing half-written


def test_a_ranges_file_round_trips_and_a_damaged_one_is_a_clear_error(tmp_path):
    path = tmp_path / "ranges.json"
    quantize.write_ranges(path, {"a": (0.0, 2.5), "b": (-1.0, 1.0)}, {"made_by": "this test"})
    assert quantize.read_ranges(path) == {"a": (0.0, 2.5), "b": (-1.0, 1.0)}
    path.write_text('{"format": 1, "ranges": {"a": [0.0]}}')
    with pytest.raises(WeightsError, match="cannot read the int8 ranges"):
        quantize.read_ranges(path)
    path.write_text('{"format": 7, "ranges": {}}')
    with pytest.raises(WeightsError, match="format 7, expected 1"):
        quantize.read_ranges(path)


def test_quantizing_writes_a_graph_onnx_runtime_runs(stored_crops):
    """The quantizer itself, from the parsed fp32 graph and the shipped ranges (what a first run does)."""
    spec = weights.model_spec(weights.default_model())
    name = f"facenet-{spec.files['weights'].sha256[:16]}"
    export = embedder_module._onnx_export(spec, weights.locate(spec.files["weights"]))[1]
    out = io.BytesIO()
    quantize.quantize(
        onnx_backend.parsed_model(name, export), quantize.read_ranges(weights.locate(spec.files["int8_ranges"])), out
    )
    vectors = onnx_backend.OnnxNetwork(out.getvalue(), 1, shared=False)(stored_crops[0])[0]
    assert vectors.shape == (5, 512) and np.isfinite(vectors).all()
