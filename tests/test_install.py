"""The installed wheel works on its own: the ``facerec`` command, from another directory, offline.

CI installs the package with ``pip install .`` (a real wheel, not editable) before the tests, as
the README says; this test runs that installed command where the source tree cannot help it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

REPO = Path(__file__).resolve().parents[1]


def _clean_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FACEREC_WEIGHTS_DIR")}
    env["XDG_CACHE_HOME"] = str(cache)  # empty: only the weights inside the wheel may be used
    return env


def _installed_python(code: str, cwd: Path) -> str:
    """What ``code`` prints, run by this Python where the source tree cannot help it."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=_clean_env(cwd / "cache"), capture_output=True, text=True, check=True
    ).stdout.strip()


def test_installed_package_lives_outside_the_source_tree(tmp_path):
    package = Path(_installed_python("import facerec, pathlib; print(pathlib.Path(facerec.__file__).parent)", tmp_path))
    assert package.resolve() != (REPO / "facerec").resolve(), (
        f"facerec is imported from the source tree ({package}): run `pip install .`"
    )
    shipped_files = (
        "cli.py",
        "_weights/manifest.json",
        "_weights/mtcnn/pnet.pt",
        "_weights/inception_resnet_v1/20180408-102900-casia-webface-features.pt",
        "_db",
        "interfaces/web/index.html",  # the page `facerec serve` offers at /
        "interfaces/web/app.js",
        "interfaces/web/style.css",
    )
    for shipped in shipped_files:
        assert (package / shipped).exists(), shipped
    assert not list(package.rglob("*.c")), "the C kernel's sources are compiled, not shipped"
    if sys.platform == "linux" and platform.machine() == "x86_64":  # the C P-Net kernel is in the wheel
        kernel = Path(_installed_python("import _facerec_mtcnn; print(_facerec_mtcnn.__file__)", tmp_path))
        assert kernel.parent == package.parent, kernel


def _run_installed(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed ``facerec`` command, run where the source tree cannot help it."""
    command = Path(sys.executable).parent / "facerec"
    assert command.exists(), "the facerec command is not installed in this environment: run `pip install .`"
    env = _clean_env(cwd / "cache")
    return subprocess.run([str(command), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_installed_command_detects_from_another_directory(tmp_path, data):
    result = _run_installed(
        "--threads", "2", "detect", "--json", str(data / "face_recognition/examples/two_people.jpg"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)[0]["faces"]) == 2
    # One source for the version (facerec/__init__.py): the wheel's metadata and the command agree with it.
    import facerec

    assert _run_installed("--version", cwd=tmp_path).stdout.splitlines()[0] == f"facerec {facerec.__version__}"
    metadata = _installed_python("from importlib.metadata import version; print(version('facerec'))", tmp_path)
    assert metadata == facerec.__version__


def test_installed_command_verifies_offline_with_the_shipped_model(tmp_path, data):
    photos = data / "openface/examples"
    result = _run_installed(
        "verify", "--json", str(photos / "clapton-1.jpg"), str(photos / "clapton-2.jpg"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["same"] is True and doc["model"] == "casia-webface"
