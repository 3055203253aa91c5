"""Inception-ResNet-v1: facenet-pytorch's exact layout, and its outputs to 1e-4."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from facerec.embedding.embedder import Embedder
from facerec.embedding.facenet import InceptionResnetV1, checkpoint_filter, fast_network, load
from facerec.errors import WeightsError
from facerec.runtime import weights


@pytest.fixture(scope="module")
def random_state(reference):
    sys.path.insert(0, str(reference))
    try:
        from make_random_irv1 import make_state_dict
    finally:
        sys.path.remove(str(reference))
    return make_state_dict()


def test_state_dict_has_exactly_the_reference_keys_and_shapes(reference):
    expected = json.loads((reference / "inception_resnet_v1_keys.json").read_text())
    ours = [[key, list(value.shape)] for key, value in InceptionResnetV1().state_dict().items()]
    assert ours == expected


def test_architecture_parity_with_random_weights(reference, random_state):
    data = np.load(reference / "irv1_random_embeddings.npz")
    network = InceptionResnetV1().eval()
    network.load_state_dict(random_state, strict=True)
    with torch.inference_mode():
        eager = network(torch.from_numpy(data["inputs"])).numpy()
        fast = fast_network(network)(torch.from_numpy(data["inputs"]).contiguous(memory_format=torch.channels_last))
    np.testing.assert_allclose(eager, data["embeddings"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(fast.numpy(), data["embeddings"], atol=1e-4, rtol=0)
    assert np.allclose(np.linalg.norm(eager, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_shipped_weights_match_facenet_pytorch_on_stored_crops(reference):
    data = np.load(reference / "irv1_casia_embeddings.npz")
    inputs = data["crops_inputs"]
    for embedder in (Embedder(eager=True), Embedder(backend="torch"), Embedder(backend="onnx", precision="fp32")):
        np.testing.assert_allclose(embedder.network(inputs)[0], data["crops_embeddings"], atol=1e-4, rtol=0)


def test_bf16_path_stays_close_to_fp32(reference):
    data = np.load(reference / "irv1_casia_embeddings.npz")
    approx = Embedder(precision="bf16").network(data["crops_inputs"])[0]
    approx /= np.linalg.norm(approx, axis=1, keepdims=True)
    cosine = np.sum(approx * data["crops_embeddings"], axis=1)
    assert cosine.min() > 0.999


def test_checkpoint_filter_drops_the_classifier_only(random_state, tmp_path):
    with_classifier = dict(random_state) | {"logits.weight": torch.zeros(10575, 512), "logits.bias": torch.zeros(10575)}
    filtered = checkpoint_filter(with_classifier)
    assert set(filtered) == set(random_state)
    InceptionResnetV1().load_state_dict(filtered, strict=True)

    foreign = dict(random_state) | {"something_else.weight": torch.zeros(3)}
    path = tmp_path / "foreign.pt"
    torch.save(foreign, path)
    with pytest.raises(WeightsError, match="not an Inception-ResNet-v1 checkpoint"):
        load(str(path))


def test_default_model_is_shipped_and_described():
    spec = weights.model_spec(weights.default_model())
    assert spec.name == "casia-webface" and spec.kind == "facenet" and spec.embedding_size == 512
    assert {"image_size", "margin", "align", "flip", "standardisation"} <= set(spec.preprocessing)
    assert 0 < spec.threshold < 1
    assert "non-commercial" in spec.info["license"]
    shipped = weights.package_weights_dir() / spec.files["weights"].path
    assert shipped.stat().st_size == spec.files["weights"].size == 94289691
    vgg = weights.model_spec("vggface2").files["weights"]
    assert vgg.size == 111898327 and vgg.url.endswith("/v2.2.9/20180402-114759-vggface2.pt")
