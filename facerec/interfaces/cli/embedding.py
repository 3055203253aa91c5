"""``facerec verify``, ``embed`` and ``eval lfw``: faces as vectors, compared and measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import numpy as np
import typer

from facerec.interfaces.cli.console import progress_bar, stderr
from facerec.interfaces.cli.errors import fail
from facerec.interfaces.cli.inputs import box_text, for_each_file
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import (
    AlignOption,
    DeviceOption,
    FlipOption,
    JsonOption,
    LargestOption,
    MarginOption,
    ModelOption,
    PrecisionOption,
    ThreadsOption,
)
from facerec.interfaces.cli.settings import embedding_recognizer


@app.command()
def verify(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(help="Photo of one face (the reference).", show_default=False)],
    second: Annotated[
        str, typer.Argument(help="Photo of another face, or a folder: each of its photos against FIRST.")
    ],
    json_out: JsonOption = False,
    largest: LargestOption = False,
    margin: MarginOption = None,
    align: AlignOption = None,
    flip: FlipOption = None,
    precision: PrecisionOption = "auto",
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """Say whether two photos show the same person (cosine similarity against the model's threshold);
    with a folder as SECOND, whether each photo in it shows the person of FIRST."""
    recognizer = embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision)
    if Path(first).is_dir():
        fail(f"{first} is a folder: the first argument is the reference, one photo (a folder may come second)")
    if Path(second).is_dir():
        reference = recognizer.embed_one(first, largest=largest)

        def work(source: str) -> tuple[dict, list[str]]:
            result = recognizer.verify(reference, source, largest=largest)
            return result.to_dict() | {"files": [first, source]}, [_verdict(result)]

        for_each_file([second], "verifying", json_out, work)
        return
    result = recognizer.verify(first, second, largest=largest)
    if json_out:
        doc = result.to_dict() | {"files": [first, second]}
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(_verdict(result))


def _verdict(result) -> str:
    verdict = "same person" if result.same else "different people"
    return (
        f"{verdict}: similarity {result.similarity:.4f} "
        f"({'>=' if result.same else '<'} threshold {result.threshold:.4f}, model {result.model})"
    )


@app.command()
def embed(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="Photos, or folders of photos (recursive).", show_default=False)],
    json_out: JsonOption = False,
    npy: Annotated[
        Path | None, typer.Option("--npy", help="Also save every embedding, in order, as an N x D .npy file.")
    ] = None,
    margin: MarginOption = None,
    align: AlignOption = None,
    flip: FlipOption = None,
    precision: PrecisionOption = "auto",
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """An embedding (unit vector) for every face of each image, with its box."""
    recognizer = embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision)
    vectors: list[np.ndarray] = []

    def work(source: str) -> tuple[dict, list[str]]:
        faces = recognizer.embed(source)
        embeddings = [cast("np.ndarray", face.embedding) for face in faces]  # embed() gives each face its own
        vectors.extend(embeddings)
        entries = [face.to_dict() | {"embedding": e.tolist()} for face, e in zip(faces, embeddings, strict=True)]
        lines = []
        for face, embedding in zip(faces, embeddings, strict=True):
            head = " ".join(f"{v:+.3f}" for v in embedding[:4])
            lines.append(f"box {box_text(face.box)}\t[{head} ...] ({len(embedding)}-d)")
        return {"model": recognizer.embedder.model, "faces": entries}, lines

    try:
        for_each_file(images, "embedding", json_out, work)
    finally:
        if npy is not None:
            empty = np.zeros((0, recognizer.embedder.dimension), np.float32)
            np.save(npy, np.stack(vectors) if vectors else empty)


eval_app = typer.Typer(help="Measure verification accuracy on standard benchmarks.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("lfw")
def eval_lfw(
    ctx: typer.Context,
    root: Annotated[Path, typer.Option("--root", help="Folder of LFW photos: ROOT/NAME/NAME_0001.jpg.")],
    pairs: Annotated[Path, typer.Option("--pairs", help="pairs.txt of the LFW protocol.")],
    json_out: JsonOption = False,
    far: Annotated[float, typer.Option("--far", help="False accept rate for the TAR figure.")] = 1e-3,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Keep embeddings on disk between runs.")] = True,
    margin: MarginOption = None,
    align: AlignOption = None,
    flip: FlipOption = None,
    precision: PrecisionOption = "auto",
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """The LFW verification protocol: k-fold accuracy, threshold, and TAR at a false accept rate.

    Each fold's threshold is chosen on the other folds; a file with a single fold uses its own
    (and says so). Photos where no face is found use the usual face region of a centred photo.
    """
    from facerec.embedding import evaluate
    from facerec.embedding.cache import EmbeddingCache
    from facerec.runtime.weights import user_cache_dir

    recognizer = embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision)
    pair_list = evaluate.read_pairs(pairs, root)
    missing = sorted({str(p) for pair in pair_list for p in (pair.first, pair.second) if not p.is_file()})
    if missing:
        fail(f"{len(missing)} photos named in {pairs} are not under {root}, e.g. {missing[0]}")
    store = EmbeddingCache(user_cache_dir() / "embeddings", f"lfw-{recognizer.embedder.model}") if cache else None
    with progress_bar(2) as progress:
        task = progress.add_task("embedding LFW photos", total=None)
        result, missed = recognizer.evaluate_pairs(
            pair_list,
            far=far,
            cache=store,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    at_model_threshold = result.accuracy_at(recognizer.embedder.threshold)
    if result.own_threshold:
        stderr.print(
            "note: a single fold: its threshold was chosen on itself, so accuracy is optimistic", highlight=False
        )
    if json_out:
        doc = result.to_dict() | {"pairs": len(pair_list), "missed_faces": len(missed), "folds": result.folds}
        doc["accuracy_at_model_threshold"] = at_model_threshold
        doc |= {"model": recognizer.embedder.model, "preprocessing": recognizer.preprocessing.__dict__}
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(
            f"LFW ({len(pair_list)} pairs, {result.folds} fold{'s' if result.folds > 1 else ''}, "
            f"model {recognizer.embedder.model})"
        )
        typer.echo(f"accuracy      {result.accuracy:.4f} +- {result.std:.4f}")
        typer.echo(f"threshold     {result.threshold:.4f} (cosine similarity)")
        typer.echo(f"accuracy at the model's threshold {recognizer.embedder.threshold:.4f}: {at_model_threshold:.4f}")
        typer.echo(f"TAR@FAR={far:g}  {result.tar_at_far:.4f}")
        typer.echo(f"missed faces  {len(missed)}")
