"""The ``facerec`` command: parse options, call the library, format text or JSON, map errors to exit codes.

Conventions every command follows:
- ``--json`` puts only the JSON document on stdout; progress, logs and warnings go to stderr.
- Options that apply to every command (``--threads``, ``--device``, ``--model``) are accepted before
  the command and after it; the one given after the command wins.
- Scores are cosine similarities of unit vectors (1 = identical direction); where a formula needs
  the squared L2 distance of two unit vectors, it is ``2 - 2 * similarity``.
- With several inputs, a file that fails is reported (a line on stderr, an ``error`` entry in the
  JSON) and the others go on; the exit code is then 1. Usage errors exit with 2.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import facerec
from facerec.errors import FacerecError

app = typer.Typer(
    name="facerec",
    help="Face detection and recognition: MTCNN + FaceNet, from the shell.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("facerec")

EXIT_FAILED = 1

ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="CPU threads for torch and OpenCV.", show_default=False)
]
DeviceOption = Annotated[str | None, typer.Option("--device", help="Compute device: cpu (default) or cuda.")]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="Embedding model from the manifest (default: casia-webface).")
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
    typer.Option("--db", help="Store URL (sqlite:///path or postgresql+psycopg://...); default in $FACEREC_HOME."),
]
PrecisionOption = Annotated[str, typer.Option("--precision", help="fp32 (reference) or bf16 (faster, approximate).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@dataclass(frozen=True)
class Settings:
    """Options shared by every command."""

    threads: int | None = None
    device: str = "cpu"
    model: str | None = None
    db: str | None = None

    def merged(
        self, threads: int | None, device: str | None, model: str | None = None, db: str | None = None
    ) -> Settings:
        """These settings overridden by the same options given after the command."""
        return Settings(
            threads if threads is not None else self.threads, device or self.device, model or self.model, db or self.db
        )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"facerec {facerec.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    ctx.obj = Settings().merged(threads, device, model, db)


def _recognizer(
    ctx: typer.Context,
    threads: int | None,
    device: str | None,
    model: str | None = None,
    db: str | None = None,
    **kwargs,
) -> facerec.FaceRecognizer:
    settings = (ctx.obj or Settings()).merged(threads, device, model, db)
    from facerec.runtime import set_threads

    try:
        set_threads(settings.threads)
        return facerec.FaceRecognizer(device=settings.device, model=settings.model, db=settings.db, **kwargs)
    except FacerecError as exc:
        _fail(str(exc))


def _embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision) -> facerec.FaceRecognizer:
    """A recognizer whose embedder is loaded now, so bad settings fail before any work."""
    recognizer = _recognizer(ctx, threads, device, model, margin=margin, align=align, flip=flip, precision=precision)
    try:
        recognizer.embedder  # noqa: B018 - load (and validate) the model up front
    except FacerecError as exc:
        _fail(str(exc))
    return recognizer


def _fail(message: str) -> None:
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(EXIT_FAILED)


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=total < 2,
    )


def _annotated_path(folder: Path, source: str, used: set[Path]) -> Path:
    """Where the annotated copy of ``source`` goes: same name, numbered if two inputs share it."""
    name = Path(source)
    suffix = (
        name.suffix.lower()
        if name.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
        else ".png"
    )
    target = folder / f"{name.stem}{suffix}"
    n = 1
    while target in used:
        target = folder / f"{name.stem}_{n}{suffix}"
        n += 1
    used.add(target)
    return target


@app.command()
def detect(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="Image files.", show_default=False)],
    json_out: JsonOption = False,
    annotate: Annotated[
        Path | None, typer.Option("--annotate", help="Write copies with boxes and landmarks drawn into DIR.")
    ] = None,
    min_face_size: Annotated[
        float, typer.Option("--min-face-size", min=1.0, help="Smallest face to find, pixels.")
    ] = 20.0,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
) -> None:
    """Find every face in each image: box, confidence and five landmarks."""
    from facerec.annotate import draw_faces, save_rgb
    from facerec.mtcnn import DetectorConfig

    recognizer = _recognizer(ctx, threads, device, detector=DetectorConfig(min_face_size=min_face_size))
    if annotate is not None:
        annotate.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()

    def work(source: str) -> tuple[dict, list[str]]:
        pixels = recognizer.load(source)
        faces = recognizer.detector.detect(pixels)
        if annotate is not None:
            save_rgb(str(_annotated_path(annotate, source, written)), draw_faces(pixels, faces))
        lines = [f"box {_box_text(face)}\tconfidence {face.confidence:.4f}" for face in faces]
        return {"faces": [face.to_dict() for face in faces]}, lines

    _for_each_file(images, "detecting", json_out, work)


def _box_text(face: facerec.Face) -> str:
    return ",".join(f"{v:.1f}" for v in face.box)


def _for_each_file(images: list[str], label: str, json_out: bool, work) -> None:
    """Run ``work(source) -> (json entry, text lines)`` on each file, reporting failures per file.

    Prints the JSON array (``--json``) or each file's lines ("no faces" for none) on stdout, errors
    on stderr, and exits 1 if any file failed.
    """
    results, failed = [], False
    with _progress(len(images)) as progress:
        task = progress.add_task(label, total=len(images))
        for source in images:
            try:
                entry, lines = work(source)
            except (FacerecError, OSError) as exc:
                failed = True
                stderr.print(f"[red]error:[/red] {exc}", highlight=False)
                results.append({"file": source, "error": str(exc)})
            else:
                results.append({"file": source} | entry)
                if not json_out:
                    for line in lines or ["no faces"]:
                        typer.echo(f"{source}\t{line}")
            progress.advance(task)
    if json_out:
        typer.echo(json.dumps(results, indent=2))
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def verify(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(help="Photo of one face.", show_default=False)],
    second: Annotated[str, typer.Argument(help="Photo of another face.", show_default=False)],
    json_out: JsonOption = False,
    largest: Annotated[
        bool, typer.Option("--largest", help="With several faces in a photo, take the largest.")
    ] = False,
    margin: MarginOption = None,
    align: AlignOption = None,
    flip: FlipOption = None,
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """Say whether two photos show the same person (cosine similarity against the model's threshold)."""
    recognizer = _embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision)
    try:
        result = recognizer.verify(first, second, largest=largest)
    except FacerecError as exc:
        _fail(str(exc))
    if json_out:
        doc = result.to_dict() | {"files": [first, second]}
        typer.echo(json.dumps(doc, indent=2))
    else:
        verdict = "same person" if result.same else "different people"
        typer.echo(
            f"{verdict}: similarity {result.similarity:.4f} "
            f"({'>=' if result.same else '<'} threshold {result.threshold:.4f}, model {result.model})"
        )


@app.command()
def embed(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="Image files.", show_default=False)],
    json_out: JsonOption = False,
    npy: Annotated[
        Path | None, typer.Option("--npy", help="Also save every embedding, in order, as an N x D .npy file.")
    ] = None,
    margin: MarginOption = None,
    align: AlignOption = None,
    flip: FlipOption = None,
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """An embedding (unit vector) for every face of each image, with its box."""
    recognizer = _embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision)
    vectors = []

    def work(source: str) -> tuple[dict, list[str]]:
        faces = recognizer.embed(source)
        vectors.extend(face.embedding for face in faces)
        entries = [face.to_dict() | {"embedding": face.embedding.tolist()} for face in faces]
        lines = []
        for face in faces:
            head = " ".join(f"{v:+.3f}" for v in face.embedding[:4])
            lines.append(f"box {_box_text(face)}\t[{head} ...] ({len(face.embedding)}-d)")
        return {"model": recognizer.embedder.model, "faces": entries}, lines

    try:
        _for_each_file(images, "embedding", json_out, work)
    finally:
        if npy is not None:
            import numpy as np

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
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
) -> None:
    """The LFW verification protocol: k-fold accuracy, threshold, and TAR at a false accept rate.

    Each fold's threshold is chosen on the other folds; a file with a single fold uses its own
    (and says so). Photos where no face is found use the usual face region of a centred photo.
    """
    from facerec import evaluate
    from facerec.embedding_cache import EmbeddingCache
    from facerec.weights import user_cache_dir

    recognizer = _embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision)
    try:
        pair_list = evaluate.read_pairs(pairs, root)
        missing = sorted({str(p) for pair in pair_list for p in (pair.first, pair.second) if not p.is_file()})
        if missing:
            _fail(f"{len(missing)} photos named in {pairs} are not under {root}, e.g. {missing[0]}")
        store = EmbeddingCache(user_cache_dir() / "embeddings", f"lfw-{recognizer.embedder.model}") if cache else None
        with _progress(2) as progress:
            task = progress.add_task("embedding LFW photos", total=None)
            result, missed = recognizer.evaluate_pairs(
                pair_list,
                far=far,
                cache=store,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except FacerecError as exc:
        _fail(str(exc))
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


def _image_files(paths: list[str]) -> list[str]:
    """Files as given, and every file under folders (recursively, in name order)."""
    found = []
    for path in paths:
        if Path(path).is_dir():
            found.extend(str(p) for p in sorted(Path(path).rglob("*")) if p.is_file())
        else:
            found.append(path)
    return found


@app.command()
def enroll(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's name (added to if enrolled already).")],
    paths: Annotated[list[str], typer.Argument(help="Photos, or folders of photos (recursive).", show_default=False)],
    json_out: JsonOption = False,
    largest: Annotated[
        bool, typer.Option("--largest", help="In a photo with several faces, take the largest.")
    ] = False,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Enrol a person from photos: one transaction; photos without exactly one good face are skipped."""
    recognizer = _recognizer(ctx, threads, device, model, db)
    files = _image_files(paths)
    if not files:
        _fail(f"no files found in {', '.join(paths)}")
    try:
        with _progress(len(files)) as progress:
            task = progress.add_task(f"enrolling {name}", total=len(files))
            report = recognizer.enroll(
                name, files, largest=largest, progress=lambda done, total: progress.update(task, completed=done)
            )
    except FacerecError as exc:
        _fail(str(exc))
    for skipped in report.skipped:
        stderr.print(f"skipped {skipped.file}: {skipped.reason}", highlight=False)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(
            f"{report.name}: added {len(report.added)}, skipped {len(report.skipped)}, {report.samples} samples held"
        )
    if not report.added:
        _fail(f"no photo of {name} was added")


@app.command()
def identify(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="Photos.", show_default=False)],
    json_out: JsonOption = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Candidates to list per face.")] = 1,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Cosine similarity for a match (model default).")
    ] = None,
    annotate: Annotated[Path | None, typer.Option("--annotate", help="Write copies with names drawn into DIR.")] = None,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Name every face of each photo, or say unknown."""
    from facerec.annotate import draw_faces, save_rgb

    recognizer = _recognizer(ctx, threads, device, model, db)
    if annotate is not None:
        annotate.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()

    def work(source: str) -> tuple[dict, list[str]]:
        pixels = recognizer.load(source)  # decoded once, for matching and for drawing
        found = recognizer.identify(pixels, top_k=top_k, threshold=threshold)
        if annotate is not None:
            labels = [f"{i.match.name or 'unknown'} {i.match.similarity:.2f}" for i in found]
            save_rgb(
                str(_annotated_path(annotate, source, written)), draw_faces(pixels, [i.face for i in found], labels)
            )
        lines = [
            f"box {_box_text(i.face)}\t{i.match.name or 'unknown'}\tsimilarity {i.match.similarity:.4f}" for i in found
        ]
        return {"faces": [i.to_dict() for i in found]}, lines

    _for_each_file(images, "identifying", json_out, work)


@app.command("list")
def list_people(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Everyone enrolled, with how many samples each."""
    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        people = recognizer.store.people()
    except FacerecError as exc:
        _fail(str(exc))
    if json_out:
        typer.echo(json.dumps([p.to_dict() for p in people], indent=2))
        return
    for person in people:
        typer.echo(f"{person.name}\t{person.samples} samples\tupdated {person.updated:%Y-%m-%d %H:%M}")


@app.command()
def show(ctx: typer.Context, name: str, json_out: JsonOption = False, db: DbOption = None) -> None:
    """One person's samples: ids, files, quality."""
    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        person = recognizer.store.person(name)
        samples = recognizer.store.samples(name)
    except FacerecError as exc:
        _fail(str(exc))
    rows = [
        {"id": s.id, "file": s.source_path, "model": s.model, "confidence": s.confidence, "quality": s.quality}
        for s in samples
    ]
    if json_out:
        typer.echo(json.dumps(person.to_dict() | {"samples": rows}, indent=2))
        return
    typer.echo(f"{person.name}: {person.samples} samples")
    for row in rows:
        q = row["quality"]
        typer.echo(f"  {row['id']}\t{row['file']}\tsize {q['size']:.0f}px sharpness {q['sharpness']:.0f}")


@app.command()
def rename(ctx: typer.Context, old: str, new: str, db: DbOption = None) -> None:
    """Give an enrolled person another name."""
    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        recognizer.store.rename(old, new)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"renamed {old} to {new}")


@app.command()
def remove(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a person: every sample, embedding and crop, from SQL and the index."""
    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        person = recognizer.store.person(name)
        if not yes and not typer.confirm(f"remove {person.name} and {person.samples} samples?", err=True):
            _fail("nothing removed")
        count = recognizer.store.remove(name)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"removed {name} ({count} samples)")


@app.command("remove-sample")
def remove_sample(ctx: typer.Context, sample_id: int, db: DbOption = None) -> None:
    """Delete one face sample by its id (see `facerec show NAME`)."""
    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        record = recognizer.store.remove_sample(sample_id)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"removed sample {record.id} of {record.person} ({record.source_path})")


@app.command()
def reindex(ctx: typer.Context, db: DbOption = None, model: ModelOption = None) -> None:
    """Rebuild the faiss index from the store (it is also rebuilt automatically when stale)."""
    recognizer = _recognizer(ctx, None, None, model, db)
    try:
        index = recognizer.index.rebuild()
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"index rebuilt: {len(index.ids)} samples of model {index.model} at store revision {index.revision}")


@app.command()
def calibrate(
    ctx: typer.Context,
    far: Annotated[float, typer.Option("--far", help="Target share of strangers that may be named.")] = 0.05,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Labelled photos FOLDER/<person>/... instead of the gallery.")
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Choose the identification threshold at a target false accept rate, and store it."""
    recognizer = _recognizer(ctx, threads, None, model, db)
    try:
        value = recognizer.calibrate(far, folder)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(
        f"threshold {value['threshold']:.4f} for a {far:g} open-set false accept rate "
        f"({value['people']} people, {value['samples']} samples from {value['source']}); stored"
    )


@app.command("export")
def export_store(
    ctx: typer.Context, file: Annotated[Path, typer.Argument(help="Archive to write (.zip).")], db: DbOption = None
) -> None:
    """Write the whole store (people, samples, embeddings, crops) to a portable archive."""
    from facerec.store import archive

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        people = recognizer.store.dump()
        count = archive.write(people, file)
    except (FacerecError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"exported {len(people)} people, {count} samples to {file}")


@app.command("import")
def import_store(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive made by facerec export.")],
    db: DbOption = None,
) -> None:
    """Add the people of an archive to the store (one transaction; photos held already are skipped)."""
    from facerec.store import archive

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        people = archive.read(file)
        models = {s["model"] for p in people for s in p["samples"]}
        held = recognizer.store.models()
        if held and models - held:
            _fail(f"{file} holds embeddings of {', '.join(sorted(models))}; the store holds {', '.join(sorted(held))}")
        touched, added = recognizer.store.load(people)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"imported {added} samples of {touched} people from {file}")


@app.command()
def reembed(ctx: typer.Context, model: ModelOption = None, db: DbOption = None, threads: ThreadsOption = None) -> None:
    """Re-embed every stored crop with another model (--model), so the store can be used with it."""
    settings = (ctx.obj or Settings()).merged(threads, None, model, db)
    if not settings.model:
        _fail("say which model to re-embed with: facerec reembed --model NAME")
    recognizer = _recognizer(ctx, threads, None, None, db)
    try:
        with _progress(2) as progress:
            task = progress.add_task("re-embedding", total=None)
            count = recognizer.reembed(
                settings.model, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"re-embedded {count} samples with {settings.model}")


# --- attendance ---------------------------------------------------------------------------------


def _moment(text: str | None, option: str):
    """An ISO 8601 time from the command line; without an offset it is local time."""
    from datetime import datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option} takes an ISO 8601 time such as 2026-11-24T08:30:00+01:00, not {text!r}")
    return moment if moment.tzinfo else moment.astimezone()


@app.command()
def attend(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="Video file, camera index, rtsp:// or http:// (MJPEG) URL, or folder of images.")
    ],
    fps: Annotated[float, typer.Option("--fps", help="Frames processed per second of source time.")] = 5.0,
    confirm: Annotated[
        str, typer.Option("--confirm", help="Check in after K recognitions within T seconds: K/T.")
    ] = "3/2s",
    dedupe: Annotated[
        str | None, typer.Option("--dedupe", help="Seen again within this, a person updates the same event (8h).")
    ] = None,
    start_time: Annotated[
        str | None, typer.Option("--start-time", help="Time of a video's first frame, ISO 8601 (default: now).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--source-name", help="Name events by this source (default SOURCE).")
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Folder: keep waiting for new images.")] = False,
    unknowns: Annotated[bool, typer.Option("--unknowns", help="Keep unknown faces as sightings for review.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per event, per line.")] = False,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Check people in from a camera, stream, video or folder; one line per event as it happens."""
    from facerec import sources
    from facerec.attendance import Attendance
    from facerec.presence import ConfirmRule, parse_duration

    recognizer = _recognizer(ctx, threads, device, model, db)
    events = 0
    try:
        rule = ConfirmRule.parse(confirm)
        window = parse_duration(dedupe, "h") if dedupe else None
        frames = sources.frames(source, fps=fps, start=_moment(start_time, "--start-time"), watch=watch)
        tracker = Attendance(recognizer, name or source, rule=rule, dedupe=window, keep_unknowns=unknowns)
        for frame in frames:
            for event in tracker.process(frame.pixels, frame.time):
                events += 1
                if json_out:
                    typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))
                else:
                    who = event.name or f"unknown sighting {event.event_id}"
                    typer.echo(f"{event.time.isoformat()}\t{event.event}\t{who}\tsimilarity {event.similarity:.4f}")
    except FacerecError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:  # every event is its own transaction: nothing is half-written
        stderr.print(f"stopped; {events} events written", highlight=False)


@app.command()
def report(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option("--date", help="One day, YYYY-MM-DD (default: today).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start, ISO 8601 date or time.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), ISO 8601 date or time.")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Time zone, e.g. Europe/Paris (default: local).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Who attended: first and last seen per source, and who was enrolled but absent."""
    from datetime import date, datetime

    from facerec import report as reports
    from facerec.store.attendance import AttendanceLog

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        zone = reports.zone(tz)
        if start or end:
            if day:
                _fail("give --date or --from/--to, not both")
            lo = _bound(start, zone, "--from") if start else datetime(1970, 1, 1, tzinfo=zone)
            hi = _bound(end, zone, "--to") if end else datetime.now(zone)
        else:
            try:
                chosen = date.fromisoformat(day) if day else datetime.now(zone).date()
            except ValueError:
                _fail(f"--date takes YYYY-MM-DD, not {day!r}")
            lo, hi = reports.day_range(chosen, zone)
        log = AttendanceLog(recognizer.store)
        people = [p.name for p in recognizer.store.people()]
        result = reports.build(log.events(lo, hi), people, lo, hi, zone)
        typer.echo(reports.render(result, fmt))
    except FacerecError as exc:
        _fail(str(exc))


def _bound(text: str, zone, option: str):
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option} takes an ISO 8601 date or time, not {text!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@app.command("unknowns")
def list_unknowns(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Unknown sightings kept by `facerec attend --unknowns`, for review."""
    from facerec.store.attendance import AttendanceLog

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        rows = AttendanceLog(recognizer.store).unknowns()
    except FacerecError as exc:
        _fail(str(exc))
    docs = [
        {
            "id": r.id,
            "source": r.source,
            "first_seen": r.first_seen.isoformat(),
            "last_seen": r.last_seen.isoformat(),
            "sightings": r.sightings,
            "best_similarity": round(r.best_similarity, 4),
        }
        for r in rows
    ]
    if json_out:
        typer.echo(json.dumps(docs, indent=2))
        return
    for d in docs:
        typer.echo(f"{d['id']}\t{d['source']}\t{d['first_seen']}\t{d['sightings']} sightings")


@app.command()
def assign(
    ctx: typer.Context,
    sighting: Annotated[int, typer.Argument(help="Unknown sighting id (see facerec unknowns).")],
    name: Annotated[str, typer.Argument(help="Who it is (enrolled if new).")],
    db: DbOption = None,
    model: ModelOption = None,
) -> None:
    """Enrol an unknown sighting's face as a sample of NAME."""
    from facerec.store.attendance import AttendanceLog

    recognizer = _recognizer(ctx, None, None, model, db)
    try:
        log = AttendanceLog(recognizer.store)
        held = recognizer.store.models()
        found = log.unknown(sighting)
        if held and found.model not in held:
            _fail(f"sighting {sighting} was embedded with {found.model}; the store holds {', '.join(sorted(held))}")
        _person_id, samples = log.assign(sighting, name)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"enrolled sighting {sighting} as {name} ({samples} samples held)")


@app.command()
def purge(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option("--older-than", help="Age, e.g. 30d, 12h.")],
    db: DbOption = None,
) -> None:
    """Delete attendance events and unknown sightings (with snapshots) last seen before the age."""
    from facerec.presence import parse_duration
    from facerec.store.attendance import AttendanceLog

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        gone = AttendanceLog(recognizer.store).purge(parse_duration(older_than, "d"))
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"purged {gone['events']} events and {gone['unknown_sightings']} unknown sightings")


@app.command()
def retention(
    ctx: typer.Context,
    age: Annotated[str | None, typer.Argument(help="Keep attendance this long, e.g. 30d; 'off' keeps all.")] = None,
    db: DbOption = None,
) -> None:
    """Show or set how long attendance is kept; older records are purged automatically."""
    from facerec.presence import parse_duration
    from facerec.store.attendance import AttendanceLog

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        log = AttendanceLog(recognizer.store)
        if age is not None:
            days = None if age == "off" else parse_duration(age, "d").total_seconds() / 86400
            log.configure(retention_days=days)
            log.apply_retention()
        days = log.settings()["retention_days"]
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"attendance kept for {days:g} days" if days else "attendance kept until purged")


@app.command()
def dedupe(
    ctx: typer.Context,
    window: Annotated[
        str | None, typer.Argument(help="Seen again within this, a person updates the same event, e.g. 8h.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Show or set the store's dedupe window (attend --dedupe overrides it for one run)."""
    from facerec.presence import parse_duration
    from facerec.store.attendance import AttendanceLog

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        log = AttendanceLog(recognizer.store)
        if window is not None:
            log.configure(dedupe_seconds=parse_duration(window, "h").total_seconds())
        seconds = log.settings()["dedupe_seconds"]
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"a person seen again within {seconds / 3600:g} hours updates the same event")


apikey_app = typer.Typer(help="HTTP API keys.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(ctx: typer.Context, name: str, db: DbOption = None) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from facerec.store.api_keys import ApiKeys

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        key = ApiKeys(recognizer.store).create(name)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(key)
    stderr.print(f"API key {name!r} created; send it as the X-API-Key header. It is not shown again.")


@apikey_app.command("list")
def apikey_list(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Keys by name, with creation and revocation times (never the keys)."""
    from facerec.store.api_keys import ApiKeys

    recognizer = _recognizer(ctx, None, None, db=db)
    keys = ApiKeys(recognizer.store).list()
    if json_out:
        typer.echo(json.dumps([k.to_dict() for k in keys], indent=2))
        return
    for k in keys:
        state = f"revoked {k.revoked:%Y-%m-%d %H:%M}" if k.revoked else "active"
        typer.echo(f"{k.name}\tcreated {k.created:%Y-%m-%d %H:%M}\t{state}")


@apikey_app.command("revoke")
def apikey_revoke(ctx: typer.Context, name: str, db: DbOption = None) -> None:
    """Revoke a key by name; requests with it get 401 from then on."""
    from facerec.store.api_keys import ApiKeys

    recognizer = _recognizer(ctx, None, None, db=db)
    try:
        ApiKeys(recognizer.store).revoke(name)
    except FacerecError as exc:
        _fail(str(exc))
    typer.echo(f"revoked {name}")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted.")] = 10.0,
    threads: ThreadsOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """The HTTP API (see /docs): detect, verify, identify, enrol, people, check-in, attendance."""
    import os

    import uvicorn

    from facerec.server import CONFIG_ENV

    settings = (ctx.obj or Settings()).merged(threads, None, model, db)
    os.environ[CONFIG_ENV] = json.dumps(
        {"db": settings.db, "model": settings.model, "threads": settings.threads, "max_upload_mb": max_upload_mb}
    )
    uvicorn.run("facerec.server:app_from_environment", factory=True, host=host, port=port, workers=workers)


@app.command()
def train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="DATA/<person>/<photos>, or an archive from facerec export.")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (the best epoch's).")],
    train_part: Annotated[str, typer.Option("--train", help="What trains: head, last-blocks or all.")] = "head",
    dim: Annotated[int, typer.Option("--dim", help="Embedding size: 512, or e.g. 128 (a projection).")] = 512,
    mining: Annotated[str, typer.Option("--mining", help="Triplet mining: semi-hard or batch-hard.")] = "semi-hard",
    margin: Annotated[float, typer.Option("--margin", help="Triplet loss margin (squared L2).")] = 0.2,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training people.")] = 30,
    steps: Annotated[int | None, typer.Option("--steps", help="Batches per epoch (default: one pass).")] = None,
    people: Annotated[int, typer.Option("--people-per-batch", help="P: people per batch.")] = 32,
    images: Annotated[int, typer.Option("--images-per-person", help="K: photos per person per batch.")] = 4,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the head.")] = 1e-3,
    backbone_lr: Annotated[float, typer.Option("--backbone-lr", help="Learning rate of trained blocks.")] = 1e-5,
    validation: Annotated[float, typer.Option("--validation", help="Share of people held out.")] = 0.15,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Go on from the run saved next to --out.")] = False,
    largest: Annotated[
        bool, typer.Option("--largest", help="In a photo with several faces, take the largest.")
    ] = False,
    json_out: JsonOption = False,
    threads: ThreadsOption = None,
    model: ModelOption = None,
) -> None:
    """Fine-tune an embedding with a triplet loss; the file works with --model for every command."""
    from facerec.embedder import Embedder
    from facerec.training import crops as training_crops
    from facerec.training.trainer import TrainConfig, Trainer
    from facerec.weights import user_cache_dir

    recognizer = _recognizer(ctx, threads, None, model)
    settings = (ctx.obj or Settings()).merged(threads, None, model)
    config = TrainConfig(
        out=out.resolve(),
        dimension=dim,
        train=train_part,
        mining=mining,
        margin=margin,
        epochs=epochs,
        steps=steps,
        people_per_batch=people,
        images_per_person=images,
        learning_rate=lr,
        backbone_learning_rate=backbone_lr,
        validation=validation,
        seed=seed,
    )
    cache = user_cache_dir() / "training"
    try:
        config.check()
        with _progress(2) as progress:
            task = progress.add_task("detecting and aligning faces", total=None)
            found = training_crops.load(
                data,
                recognizer,
                cache,
                lambda done, total: progress.update(task, completed=done, total=total),
                largest=largest,
            )
        for skipped in found.skipped:
            stderr.print(f"skipped {skipped.file}: {skipped.reason}", highlight=False)
        stderr.print(f"{len(found.files)} faces of {len(found.names)} people", highlight=False)
        trainer = Trainer(found, Embedder(settings.model, eager=True), config, cache)
        if resume:
            trainer.resume()

        def report(epoch) -> None:
            stderr.print(
                f"epoch {epoch.epoch}/{config.epochs}: loss {epoch.loss:.4f}, active triplets {epoch.active:.3f}, "
                f"validation accuracy {epoch.accuracy:.4f}, TAR@FAR={config.far:g} {epoch.tar:.4f}",
                highlight=False,
            )

        with _progress(2) as progress:
            task = progress.add_task("training", total=trainer.steps_per_epoch())
            outcome = trainer.run(
                on_step=lambda done, total: progress.update(task, completed=done, total=total), on_epoch=report
            )
    except (FacerecError, ValueError) as exc:
        _fail(str(exc))
    best = outcome.best
    doc = {
        "out": str(config.out),
        "best_epoch": best.epoch,
        "validation_accuracy": best.accuracy,
        "validation_tar_at_far": best.tar,
        "threshold": best.threshold,
        "history": [e.__dict__ for e in outcome.history],
        "data": found.summary(),
    }
    if json_out:
        typer.echo(json.dumps(doc, indent=2, default=float))
    else:
        typer.echo(
            f"wrote {config.out}: epoch {best.epoch}, validation accuracy {best.accuracy:.4f}, "
            f"TAR@FAR={config.far:g} {best.tar:.4f}, threshold {best.threshold:.4f}"
        )


if __name__ == "__main__":
    app()
