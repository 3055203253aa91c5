"""Hatchling build hook: compiles facerec's C kernel for detection (P-Net, NMS, crops) into the wheel.

The kernel is the top-level module ``_facerec_mtcnn``, not a module inside ``facerec``: the tests
and a source checkout import ``facerec`` from the working tree, and a module beside the package
is found there too, once installed. Where no C compiler works, the wheel is built without it
(those then run on ONNX Runtime and numpy) unless ``FACEREC_REQUIRE_KERNEL=1`` asks for it to fail, as CI
does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

KERNELS = Path("facerec/detection/mtcnn")
SOURCES = [KERNELS / "pnet.c", KERNELS / "nms.c", KERNELS / "crops.c"]
HEADERS = [KERNELS / "pnet_kernels.h", KERNELS / "kernels.h"]
MODULE = "_facerec_mtcnn"


def compile_kernel(root: Path, build: Path) -> Path:
    """Build the extension with setuptools' compiler settings for this Python; its path."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    unix = os.name != "nt"
    extension = Extension(
        MODULE,
        sources=[str(root / source) for source in SOURCES],
        depends=[str(root / header) for header in HEADERS],
        # -ffp-contract=fast: a * b + c as one fused multiply-add where the target has them, on
        # every compiler alike (GCC's default, not clang's).
        extra_compile_args=["-O3", "-ffp-contract=fast"] if unix else ["/O2"],
    )
    command = build_ext(Distribution({"name": "facerec", "ext_modules": [extension]}))
    command.build_lib = str(build / "lib")
    command.build_temp = str(build / "temp")
    command.ensure_finalized()
    command.run()
    return Path(command.get_ext_fullpath(MODULE))


class KernelBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        self._build = Path(tempfile.mkdtemp(prefix="facerec-kernel-"))
        try:
            built = compile_kernel(Path(self.root), self._build)
        except Exception as exc:  # a missing compiler or header: setuptools raises several kinds
            if os.environ.get("FACEREC_REQUIRE_KERNEL") == "1":
                raise
            self.app.display_warning(f"facerec: building without the C detection kernel ({exc}): slower detection")
            return
        build_data["force_include"][str(built)] = built.name
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        if getattr(self, "_build", None):
            shutil.rmtree(self._build, ignore_errors=True)
