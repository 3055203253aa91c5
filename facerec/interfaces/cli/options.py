"""The options several ``facerec`` commands take, each spelled and explained once.

Options that apply to every command (``--threads``, ``--device``, ``--model``, ``--db``) are
accepted before the command and after it (see :mod:`facerec.interfaces.cli.settings`).
"""

from __future__ import annotations

from typing import Annotated

import typer

ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="CPU threads for the networks and OpenCV.", show_default=False)
]
IndexOption = Annotated[
    str,
    typer.Option(
        "--index",
        help="What answers identify: auto (pgvector on a PostgreSQL store that has the extension, else faiss), "
        "faiss (an index beside the store, in each process) or pgvector (PostgreSQL searches).",
    ),
]
BackendOption = Annotated[
    str,
    typer.Option("--backend", help="Network runtime: auto (ONNX Runtime on the CPU, torch on a GPU), onnx or torch."),
]
DeviceOption = Annotated[str | None, typer.Option("--device", help="Compute device: cpu (default) or cuda.")]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Embedding model: a manifest name (default casia-webface) or a facerec train file."),
]
MarginOption = Annotated[
    float | None, typer.Option("--margin", min=0, help="Crop margin in pixels of the 160 px crop (model default).")
]
AlignOption = Annotated[str | None, typer.Option("--align", help="crop (box + margin) or similarity (5-point).")]
FlipOption = Annotated[
    bool | None, typer.Option("--flip/--no-flip", help="Add the mirror image's embedding (model default).")
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The store: a SQLite file (PATH.db, or sqlite:///PATH) or postgresql+psycopg://...; "
        "default in $FACEREC_HOME.",
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="auto (int8 on the CPU where the model ships int8 ranges, else fp32), fp32 (the reference), "
        "int8 (ONNX Runtime) or bf16 (torch).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
MinFaceOption = Annotated[
    float,
    typer.Option(
        "--min-face-size", min=1.0, help="Smallest face to find, pixels (a larger one searches less: faster)."
    ),
]
LargestOption = Annotated[
    bool,
    typer.Option(
        "--largest",
        help="In a photo with several faces, take one: the largest "
        "(enroll: the one most like the person's other photos).",
    ),
]
LivenessThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--liveness-threshold",
        min=0.0,
        max=1.0,
        help="Real-face score a live face needs (default: the vendor's rule, real the likeliest class).",
    ),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="Cosine similarity a face needs to be named (default: the model's operating point for the gallery's size, "
        "or the store's calibrated threshold).",
    ),
]
