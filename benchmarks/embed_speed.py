"""Embedding throughput: facerec's inference paths against plain eager fp32 PyTorch, same run.

    python benchmarks/embed_speed.py

Faces/s at batch 1, 16 and 64 (2 threads) for: eager fp32 torch (the checked reference path),
torch fp32 with batch norms folded into convolutions (channels-last), ONNX Runtime fp32, ONNX
Runtime int8 (the CPU default, ``--precision auto``) and the optional bf16 torch path; with the
largest difference from eager and the lowest cosine to it on real crops, and each path's speed
against ONNX Runtime fp32.
Then the cold start of ``facerec verify`` as a new process, split into imports, model loading and
the work itself.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec.embedding.embedder import Embedder  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def throughput(embedder: Embedder, batch: int, repeats: int = 5) -> float:
    x = np.random.default_rng(0).normal(size=(batch, 3, 160, 160)).astype(np.float32)
    embedder.network(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.network(x)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    torch.set_num_threads(2)
    paths = {
        "eager fp32 (torch)": Embedder(eager=True),
        "fused fp32 (torch)": Embedder(backend="torch"),
        "fp32 (onnx)": Embedder(backend="onnx", precision="fp32", threads=2),
        "int8 (onnx, default)": Embedder(backend="onnx", precision="int8", threads=2),
        "bf16 (torch)": Embedder(precision="bf16"),
    }
    crops = np.load(SHARED / "reference/irv1_casia_embeddings.npz")["crops_inputs"]
    reference = paths["eager fp32 (torch)"].network(crops)[0]
    print("faces/s (2 threads)      batch 1   batch 16   batch 64   vs eager: max |diff|  min cosine   vs fp32 onnx")
    rates = {name: [throughput(embedder, b) for b in (1, 16, 64)] for name, embedder in paths.items()}
    for name, embedder in paths.items():
        vectors = embedder.network(crops)[0]
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        diff, cosine = float(np.abs(vectors - reference).max()), float(np.sum(vectors * reference, axis=1).min())
        ratios = " ".join(f"{r / b:.2f}x" for r, b in zip(rates[name], rates["fp32 (onnx)"], strict=True))
        speeds = "  ".join(f"{r:8.1f}" for r in rates[name])
        print(f"  {name:22s} {speeds}   {diff:.1e}  {cosine:.5f}   {ratios}")

    print("\ncold start: facerec verify a.jpg b.jpg as a new process (median of 3)")
    a = SHARED / "data/openface/examples/clapton-1.jpg"
    b = SHARED / "data/openface/examples/clapton-2.jpg"
    probes = {
        "python + import facerec, cv2, cli (no torch)": "import facerec, cv2, cli",
        "... + load both models (graphs cached)": "import facerec; r=facerec.FaceRecognizer(); r.detector; r.embedder",
        "whole command": None,
    }
    for label, code in probes.items():
        command = [sys.executable, "-c", code] if code else [sys.executable, "cli.py", "verify", str(a), str(b)]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
            times.append(time.perf_counter() - start)
        print(f"  {label:42s} {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
