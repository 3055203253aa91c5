"""Weight files are found in the documented order and refused when their sha256 is wrong."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from datetime import date

import numpy as np
import pytest

from facerec.detection.mtcnn import detector, nets
from facerec.errors import WeightsError
from facerec.runtime import weights


def test_manifest_matches_shipped_files():
    for role, spec in weights.model_files("mtcnn").items():
        path = weights.package_weights_dir() / spec.path
        assert path.stat().st_size == spec.size, role
        assert weights.sha256_of(path) == spec.sha256, role


def test_the_default_models_centre_is_shipped_with_its_provenance():
    spec = weights.model_spec("casia-webface")
    shipped = spec.files["centre"]
    path = weights.package_weights_dir() / shipped.path
    assert path.stat().st_size == shipped.size and weights.sha256_of(path) == shipped.sha256
    about = spec.centre_info
    assert "lfw_train" in about["data"] and "none of them in LFW fold 1" in about["data"]
    assert (about["people"], about["photos"]) == (139, 1627)
    assert date.fromisoformat(about["date"]) <= date.today()
    assert "benchmarks/centre.py" in about["made_by"]
    centre = weights.load_centre(spec)
    assert centre.shape == (512,) and centre.dtype == np.float32
    assert 0 < np.linalg.norm(centre) < 1  # a mean of unit vectors
    assert weights.load_centre(weights.model_spec("vggface2")) is None  # not measured: used as it comes


def test_a_centre_of_the_wrong_size_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    spec = weights.model_spec("casia-webface")
    target = folder / spec.files["centre"].path
    target.parent.mkdir(parents=True)
    np.save(target, np.zeros(128, np.float32))
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(folder))
    with pytest.raises(WeightsError, match="sha256"):  # a file not the manifest's is refused first
        weights.load_centre(spec)
    data = target.read_bytes()
    odd = dataclasses.replace(
        spec,
        files=spec.files
        | {"centre": weights.WeightFile(spec.files["centre"].path, hashlib.sha256(data).hexdigest(), len(data))},
    )
    with pytest.raises(WeightsError, match="a centre vector of 512 values"):
        weights.load_centre(odd)


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
    first, second = (detector.MTCNN(backend="onnx", native_pnet=False) for _ in range(2))
    assert first.pnet.network.session is second.pnet.network.session and first.onet.session is second.onet.session
