"""Choosing the network runtime, and the cache of exported ONNX graphs.

The CPU default is ONNX Runtime over graphs exported once from the .pt weights; these tests hold
the properties that choice rests on: the backends agree, a process that finds the graphs cached
never imports torch, and a cache that is damaged or cannot be written costs time, not a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facerec import DeviceError, FaceRecognizer
from facerec.detection.mtcnn import MTCNN, native
from facerec.embedding.embedder import Embedder
from facerec.images import load_image
from facerec.runtime import weights
from facerec.runtime.settings import resolve_backend

REPO = Path(__file__).resolve().parents[2]
PROBE = "face_recognition/examples/two_people.jpg"

# Runs in a fresh interpreter: embeds the probe and reports whether torch was imported.
CHILD = """
import json, sys
from facerec import FaceRecognizer
faces = FaceRecognizer().embed(sys.argv[1])
print(json.dumps({"torch": "torch" in sys.modules, "vectors": [f.embedding.tolist() for f in faces]}))
"""


def _child(cache: Path, photo: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(photo)], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(result.stdout)


def test_auto_is_onnx_on_the_cpu_and_torch_elsewhere_or_when_asked():
    assert resolve_backend("auto", "cpu") == "onnx"
    assert resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("auto", "cpu", torch_only="bf16 precision") == "torch"
    assert resolve_backend("torch", "cpu") == "torch"
    with pytest.raises(DeviceError, match="unknown backend"):
        resolve_backend("tensorrt", "cpu")
    with pytest.raises(DeviceError, match="runs on the CPU"):
        resolve_backend("onnx", "cuda")
    with pytest.raises(DeviceError, match="bf16 precision needs the torch backend"):
        Embedder(backend="onnx", precision="bf16")
    assert Embedder(precision="bf16").backend == "torch" and Embedder(eager=True).backend == "torch"
    with pytest.raises(DeviceError, match="unknown backend"):
        FaceRecognizer(backend="nonsense")


def test_backends_find_the_same_faces_and_vectors(data):
    photo = data / "facenet_pytorch/multiface.jpg"
    on_onnx, on_torch = MTCNN(backend="onnx").detect(photo), MTCNN(backend="torch").detect(photo)
    assert len(on_onnx) == len(on_torch) == 6
    for a, b in zip(on_onnx, on_torch, strict=True):
        assert np.abs(np.subtract(a.box, b.box)).max() < 0.01 and abs(a.confidence - b.confidence) < 1e-5
    crops = Embedder().crops(load_image(photo), on_torch)
    on_onnx = Embedder(backend="onnx", precision="fp32")  # parity is fp32's; int8 has its own bound
    vectors = on_onnx.embed_crops(crops), Embedder(backend="torch").embed_crops(crops)
    np.testing.assert_allclose(*vectors, atol=1e-5)


def test_a_batch_of_photos_gives_what_each_photo_gives_alone(data):
    detector = MTCNN(backend="onnx", threads=2)
    photos = [data / PROBE, data / "facenet_pytorch/multiface.jpg", data / "face_recognition/examples/obama.jpg"]
    together = detector.detect_batch(photos)
    assert [len(faces) for faces in together] == [len(detector.detect(p)) for p in photos]
    for photo, faces in zip(photos, together, strict=True):
        assert [f.box for f in faces] == [f.box for f in detector.detect(photo)]
    assert detector.detect_batch([]) == []


@pytest.mark.slow
def test_a_process_that_finds_the_graphs_cached_never_imports_torch(data, tmp_path):
    first = _child(tmp_path, data / PROBE)  # exports the graphs (with torch) into the empty cache
    cached = sorted(p.name for p in (tmp_path / "facerec" / "onnx").iterdir())
    # Where facerec's C kernel runs P-Net, its packed weights are cached instead of P-Net's graph.
    kernel = native.kernel() is not None
    assert [name.split("-")[0] for name in cached] == ["facenet"] * 2 + ["mtcnn"] * (2 if kernel else 3)
    if kernel:
        assert [p.name.split("-")[:2] for p in (tmp_path / "facerec" / "kernels").iterdir()] == [["mtcnn", "pnet"]]
    assert sum("-int8-" in name for name in cached) == 1  # the default's graph, quantized from the fp32 one
    second = _child(tmp_path, data / PROBE)
    assert first["torch"] is True and second["torch"] is False
    np.testing.assert_allclose(first["vectors"], second["vectors"], atol=1e-6)


@pytest.mark.slow
def test_a_damaged_cached_graph_is_exported_again_and_old_versions_go(data, tmp_path, monkeypatch):
    expected = Embedder().embed_crops(np.full((1, 160, 160, 3), 128, np.uint8))  # from the usual cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "facerec" / "onnx"
    folder.mkdir(parents=True)
    from facerec.runtime import onnx_backend

    sha = weights.model_spec(weights.default_model()).files["weights"].sha256
    name = f"facenet-{sha[:16]}-v{onnx_backend.EXPORT_VERSION}.onnx"
    (folder / name).write_bytes(b"not a graph")
    older = folder / f"facenet-{sha[:16]}-v{onnx_backend.EXPORT_VERSION - 1}.onnx"
    newer = folder / f"facenet-{sha[:16]}-v{onnx_backend.EXPORT_VERSION + 1}.onnx"
    older.write_bytes(b"an earlier export version")
    newer.write_bytes(b"a later facerec's export")
    again = Embedder().embed_crops(np.full((1, 160, 160, 3), 128, np.uint8))
    np.testing.assert_allclose(again, expected, atol=1e-6)
    assert (folder / name).stat().st_size > 90_000_000
    assert not older.exists()  # replaced by the current version's graph
    assert newer.exists()  # still read by the facerec that wrote it


def test_a_cache_that_cannot_be_written_still_works(data, tmp_path, monkeypatch, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    faces = MTCNN(backend="onnx").detect(data / PROBE)
    assert len(faces) == 2
    assert "cannot cache" in caplog.text


def test_the_cli_takes_a_backend_and_refuses_an_unknown_one(data):
    from typer.testing import CliRunner

    from facerec.interfaces import cli

    app, runner = cli.app, CliRunner()
    photo = str(data / PROBE)
    on_torch = runner.invoke(app, ["--backend", "torch", "detect", "--json", photo])
    on_onnx = runner.invoke(app, ["--backend", "onnx", "detect", "--json", photo])
    assert on_torch.exit_code == on_onnx.exit_code == 0
    boxes = [[f["box"] for f in json.loads(r.stdout)[0]["faces"]] for r in (on_torch, on_onnx)]
    np.testing.assert_allclose(*boxes, atol=0.01)
    refused = runner.invoke(app, ["--backend", "tpu", "detect", photo])
    assert refused.exit_code == 1 and "unknown backend" in refused.stderr


@pytest.mark.parametrize("shape", [(3, 8, 5, 7), (4, 8)])
def test_blocked_prelu_is_prelu_bit_for_bit(shape):
    """The export's spelling of PReLU (see nets.BlockedPReLU) must compute the same numbers, on
    both signs, zero, and tiny and huge values, in torch and in the exported graph."""
    import torch

    from facerec.detection.mtcnn.nets import BlockedPReLU

    generator = torch.Generator().manual_seed(0)
    prelu = torch.nn.PReLU(8)
    with torch.no_grad():
        prelu.weight.copy_(torch.randn(8, generator=generator))  # negative slopes occur in MTCNN
    x = torch.randn(shape, generator=generator) * torch.logspace(-30, 30, shape[-1])
    x[0, 0] = 0.0
    with torch.no_grad():
        assert torch.equal(BlockedPReLU(prelu)(x), prelu(x))


@pytest.mark.parametrize("role", ["pnet", "rnet", "onet"])
def test_mtcnn_graphs_keep_no_prelu_on_feature_maps(role):
    """Each PRelu left on a feature map costs ONNX Runtime two layout changes and a slow kernel:
    only the activations after dense layers may stay PRelu, and the graph must give the same
    outputs as torch's network."""
    import io

    import onnx

    from facerec.detection.mtcnn import nets
    from facerec.runtime.onnx_backend import OnnxNetwork
    from facerec.runtime.torch_backend import TorchNetwork

    path = str(weights.locate(weights.model_files("mtcnn")[role]))
    buffer = io.BytesIO()
    nets.export_onnx(role, path, buffer)
    graph = onnx.load_from_string(buffer.getvalue()).graph
    after_dense = {"pnet": 0, "rnet": 1, "onet": 1}[role]  # R-Net's prelu4, O-Net's prelu5
    assert [n.op_type for n in graph.node].count("PRelu") == after_dense
    size = {"pnet": 57, "rnet": 24, "onet": 48}[role]
    batch = np.random.default_rng(0).uniform(-1, 1, (5, 3, size, size)).astype(np.float32)
    for ours, theirs in zip(
        OnnxNetwork(buffer.getvalue(), 1, shared=False)(batch), TorchNetwork(nets.load(role, path))(batch), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_rnet_padded_to_whole_channel_blocks_gives_the_same_bits():
    """R-Net's 28 channels are exported as 32 (nets.PADDED) so ONNX Runtime keeps its blocked
    layout through the first pooling; the zero channels must change no output bit."""
    import io

    import onnx

    from facerec.detection.mtcnn import nets
    from facerec.runtime.onnx_backend import OnnxNetwork
    from facerec.runtime.torch_backend import export_onnx

    path = str(weights.locate(weights.model_files("mtcnn")["rnet"]))
    net = nets.load("rnet", path)
    example, outputs, dynamic = nets.EXPORTS["rnet"]
    graphs = {}
    for padded in (False, True):
        buffer = io.BytesIO()
        export_onnx(nets.for_onnx(net, "rnet" if padded else None), buffer, example, outputs, dynamic, reference=net)
        graphs[padded] = buffer.getvalue()
    shapes = {i.name: list(i.dims) for i in onnx.load_from_string(graphs[True]).graph.initializer}
    assert shapes["conv1.weight"] == [32, 3, 3, 3] and shapes["conv2.weight"] == [48, 32, 3, 3]
    batch = np.random.default_rng(0).uniform(-1, 1, (40, 3, 24, 24)).astype(np.float32)
    plain = OnnxNetwork(graphs[False], 1, shared=False)(batch)
    wide = OnnxNetwork(graphs[True], 1, shared=False)(batch)
    assert all(np.array_equal(a, b) for a, b in zip(plain, wide, strict=True))


def test_the_first_command_says_it_prepares_the_models_once(tmp_path, data):
    """A first run spends ~20 s exporting graphs; it said nothing and looked hung."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), FACEREC_HOME=str(tmp_path / "home"))
    command = [sys.executable, str(REPO / "cli.py"), "detect", str(data / PROBE)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.startswith("preparing models")]
    assert "preparing models for this machine (once): mtcnn onet" in lines, first.stderr
    assert all("mtcnn" in line for line in lines) and len(lines) <= 3  # one line per graph, no hashes
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "preparing" not in again.stderr
    assert again.stdout == first.stdout
