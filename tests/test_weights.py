"""Weight files are found in the documented order and refused when their sha256 is wrong."""

from __future__ import annotations

import shutil

import pytest

from facerec import weights
from facerec.errors import WeightsError
from facerec.mtcnn import detector, nets


def test_manifest_matches_shipped_files():
    for role, spec in weights.model_files("mtcnn").items():
        path = weights.package_weights_dir() / spec.path
        assert path.stat().st_size == spec.size, role
        assert weights.sha256_of(path) == spec.sha256, role


def test_unknown_model():
    with pytest.raises(WeightsError, match="unknown model 'nope'"):
        weights.model_files("nope")


def test_weights_dir_env_is_searched_first(tmp_path, monkeypatch):
    shutil.copytree(weights.package_weights_dir() / "mtcnn", tmp_path / "mtcnn")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path))
    spec = weights.model_files("mtcnn")["onet"]
    assert weights.locate(spec) == tmp_path / "mtcnn" / "onet.pt"
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV)
    assert weights.locate(spec) == weights.package_weights_dir() / "mtcnn" / "onet.pt"


def test_corrupt_file_is_refused_with_its_path(tmp_path, monkeypatch):
    (tmp_path / "mtcnn").mkdir()
    (tmp_path / "mtcnn" / "pnet.pt").write_bytes(b"not the weights")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(WeightsError, match=r"pnet\.pt: sha256 .* does not match"):
        weights.locate(weights.model_files("mtcnn")["pnet"])


def test_missing_file_names_every_place_looked(tmp_path, monkeypatch):
    spec = weights.WeightFile(path="mtcnn/absent.pt", sha256="0" * 64, size=1)
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(WeightsError, match="absent.pt not found; looked in") as info:
        weights.locate(spec)
    assert str(tmp_path) in str(info.value)
    assert str(weights.package_weights_dir()) in str(info.value)


def test_explicit_path_wins(tmp_path):
    spec = weights.model_files("mtcnn")["rnet"]
    copy = tmp_path / "my-rnet.pt"
    shutil.copy(weights.package_weights_dir() / spec.path, copy)
    assert weights.locate(spec, copy) == copy
    with pytest.raises(WeightsError, match="does not exist"):
        weights.locate(spec, tmp_path / "other.pt")


@pytest.mark.parametrize("role,module", [("pnet", nets.PNet), ("rnet", nets.RNet), ("onet", nets.ONet)])
def test_nets_have_exactly_the_reference_state_dict_layout(role, module):
    state = weights.load_state_dict(weights.locate(weights.model_files("mtcnn")[role]))
    net = module()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == {k: tuple(v.shape) for k, v in state.items()}
    net.load_state_dict(state, strict=True)


def test_nets_are_loaded_once():
    path = str(weights.locate(weights.model_files("mtcnn")["pnet"]))
    assert nets.load("pnet", path) is nets.load("pnet", path)
    first, second = detector.MTCNN(backend="onnx"), detector.MTCNN(backend="onnx")
    assert first.pnet.session is second.pnet.session and first.onet.session is second.onet.session
