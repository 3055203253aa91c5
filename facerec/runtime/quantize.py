"""int8 graphs: an fp32 ONNX graph quantized with activation ranges measured once and shipped.

Static int8 needs the range of every activation. Measuring them means running the network over
real faces (calibration), which a user's machine cannot do without data; so the ranges are
measured once by ``benchmarks/calibrate_int8.py`` and shipped as a small JSON file beside the
weights, and quantization itself (about 3 s, no data) runs once per machine into the ONNX cache.

The settings below are the ones measured on FaceNet (2 AVX2 cores, batch 16): QOperator graphs
(QLinearConv and friends, 3.4x fp32's faces/s against 3.1x for QDQ), weights per output channel,
7-bit weight ranges (``reduce_range``) so that the u8 x s8 products of CPUs without VNNI cannot
saturate their 16-bit sums; the vectors stay within cosine 0.998 of fp32's on LFW fold 1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from pathlib import Path
from typing import BinaryIO

from facerec.errors import WeightsError

RANGES_FORMAT = 1
# Bump when the settings below change: the cached int8 graphs are named with it.
QUANTIZE_VERSION = 1


def read_ranges(path: Path) -> dict[str, tuple[float, float]]:
    """Tensor name -> (lowest, highest) from a ranges file written by calibrate_int8.py."""
    try:
        document = json.loads(path.read_text())
        if document.get("format") != RANGES_FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {RANGES_FORMAT}")
        ranges = {str(name): (float(low), float(high)) for name, (low, high) in document["ranges"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"cannot read the int8 ranges {path}: {exc}") from None
    if not ranges:
        raise WeightsError(f"{path} holds no ranges")
    return ranges


def write_ranges(path: Path, ranges: dict[str, tuple[float, float]], about: dict) -> None:
    """The ranges file: ``about`` says how they were measured (for people, and for SOURCE.md)."""
    document = {
        "format": RANGES_FORMAT,
        **about,
        "ranges": {k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()},
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def calibrate(fp32: Path, batches) -> dict[str, tuple[float, float]]:
    """Min/max of every activation of the graph at ``fp32`` over ``batches`` (dicts input -> array)."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, create_calibrator
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict | None:
            return next(self._batches, None)

    with tempfile.TemporaryDirectory(prefix="facerec-calibrate-") as folder:
        calibrator = create_calibrator(
            fp32,
            sorted(set(QLinearOpsRegistry) | set(QDQRegistry)),  # the outputs quantize_static quantizes
            augmented_model_path=str(Path(folder) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.MinMax,
        )
        calibrator.collect_data(Reader())
        measured = calibrator.compute_data()
    # One range per tensor (MinMax without per-channel activations), each an array of one value.
    return {name: (_one(r.range_value[0]), _one(r.range_value[1])) for name, r in measured.data.items()}


def _one(value) -> float:
    import numpy as np

    values = np.asarray(value, np.float64).reshape(-1)
    if len(values) != 1:
        raise ValueError(f"one value per tensor expected, got {len(values)}")
    return float(values[0])


def missing_tensors(model, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """Range names that are no tensor of the graph (an ``onnx.ModelProto``): ranges measured on
    another export of it (a torch that names its tensors otherwise) would quantize only part of it."""
    graph = model.graph
    tensors = {i.name for i in graph.input} | {o for node in graph.node for o in node.output}
    return sorted(set(ranges) - tensors)


def quantize(model, ranges: dict[str, tuple[float, float]], out: BinaryIO) -> None:
    """Write the int8 graph of the fp32 ``model`` (an ``onnx.ModelProto``) with these activation
    ranges to ``out``."""
    import numpy as np
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    missing = missing_tensors(model, ranges)
    if missing:
        raise WeightsError(
            f"the int8 ranges do not fit this ONNX export ({len(missing)} of {len(ranges)} tensors missing, "
            f"e.g. {missing[0]!r}): use --precision fp32, or measure them again (benchmarks/calibrate_int8.py)"
        )
    data = {
        name: TensorData(lowest=np.array([low], np.float32), highest=np.array([high], np.float32))
        for name, (low, high) in ranges.items()
    }
    with tempfile.TemporaryDirectory(prefix="facerec-quantize-") as folder:
        cache = Path(folder) / "ranges.json"
        save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), cache)
        target = Path(folder) / "int8.onnx"
        with _quiet_root_logger():  # the quantizer's advice goes to the root logger
            quantize_static(
                model,
                str(target),
                None,
                calibration_cache_path=cache,
                quant_format=QuantFormat.QOperator,
                per_channel=True,
                reduce_range=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        out.write(target.read_bytes())


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
