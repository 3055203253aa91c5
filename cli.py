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
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

import facerec
from facerec.errors import FacerecError
from facerec.identity.quality import QualityGate
from facerec.interfaces.cli_support import (
    EXIT_FAILED,
    AlignOption,
    BackendOption,
    DbOption,
    DeviceOption,
    FlipOption,
    IndexOption,
    JsonOption,
    LargestOption,
    LivenessThresholdOption,
    MarginOption,
    MinFaceOption,
    ModelOption,
    PrecisionOption,
    Settings,
    ThreadsOption,
    ThresholdOption,
    app,
    embedding_recognizer,
    fail,
    progress_bar,
    recognizer_for,
    show_preparation,
    stderr,
)
from facerec.types import MAX_ID, counted


def _version(value: bool) -> None:
    if value:
        from facerec.detection.mtcnn import native

        # Whether detection runs on facerec's C kernel is what a slow install most often hides.
        kernel = native.kernel()
        typer.echo(f"facerec {facerec.__version__}")
        typer.echo(
            f"detection kernel: {kernel.INSTRUCTION_SET}"
            if kernel
            else "detection kernel: not built (P-Net, NMS and crops run on ONNX Runtime and numpy)"
        )
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
    backend: BackendOption = "auto",
    index: IndexOption = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    show_preparation()
    ctx.obj = Settings(backend=backend, index=index).merged(threads, device, model, db)


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
    images: Annotated[list[str], typer.Argument(help="Photos, or folders of photos (recursive).", show_default=False)],
    json_out: JsonOption = False,
    annotate: Annotated[
        Path | None, typer.Option("--annotate", help="Write copies with boxes and landmarks drawn into DIR.")
    ] = None,
    min_face_size: MinFaceOption = 20.0,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
) -> None:
    """Find every face in each image: box, confidence and five landmarks."""
    from facerec.annotate import draw_faces, save_rgb
    from facerec.detection.mtcnn import DetectorConfig

    recognizer = recognizer_for(ctx, threads, device, detector=DetectorConfig(min_face_size=min_face_size))
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
    return _xyxy_text(face.box)


def _xyxy_text(box) -> str:
    return ",".join(f"{v:.1f}" for v in box)


def _files_in(paths: list[str]) -> list[str]:
    """Files as given, and every file under folders (recursively, in name order); none is an error."""
    from facerec.images import image_paths

    files = image_paths(paths)
    if not files:
        fail(f"no files found in {', '.join(paths)}")
    return files


def _for_each_file(images: list[str], label: str, json_out: bool, work) -> None:
    """Run ``work(source) -> (json entry, text lines)`` on each file (folders: every file under
    them), reporting failures per file.

    Prints the JSON array (``--json``) or each file's lines ("no faces" for none) on stdout, errors
    on stderr, and exits 1 if any file failed.
    """
    images = _files_in(images)
    results, failed = [], False
    with progress_bar(len(images)) as progress:
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
def liveness(
    ctx: typer.Context,
    images: Annotated[
        list[str], typer.Argument(help="Photos or folders of them (camera frames work best).", show_default=False)
    ],
    json_out: JsonOption = False,
    threshold: LivenessThresholdOption = None,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
) -> None:
    """Is each face a live one, or a print or a screen held up to the camera? (MiniFASNet)"""
    recognizer = recognizer_for(ctx, threads, device, liveness_threshold=threshold)

    def work(source: str) -> tuple[dict, list[str]]:
        found = recognizer.liveness(source)
        faces = [face.to_dict() | verdict.to_dict() for face, verdict in found]
        for entry in faces:
            del entry["keypoints"]
        lines = [
            f"box {_box_text(face)}	{'live' if verdict.live else 'not live'}	score {verdict.score:.4f}"
            for face, verdict in found
        ]
        return {"faces": faces}, lines

    _for_each_file(images, "checking liveness", json_out, work)


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
        try:
            reference = recognizer.embed_one(first, largest=largest)
        except FacerecError as exc:
            fail(str(exc))

        def work(source: str) -> tuple[dict, list[str]]:
            result = recognizer.verify(reference, source, largest=largest)
            return result.to_dict() | {"files": [first, source]}, [_verdict(result)]

        _for_each_file([second], "verifying", json_out, work)
        return
    try:
        result = recognizer.verify(first, second, largest=largest)
    except FacerecError as exc:
        fail(str(exc))
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
    try:
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
    except FacerecError as exc:
        fail(str(exc))
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


@app.command()
def enroll(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's name (added to if enrolled already).")],
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Photos, folders of photos (recursive), or video clips of the person.", show_default=False),
    ] = None,
    camera: Annotated[
        str | None,
        typer.Option("--camera", help="Enrol from a camera (index) or stream URL for --seconds, the person alone."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, help="How long --camera is watched.")] = 10.0,
    faces: Annotated[int, typer.Option("--faces", min=1, help="Samples taken from each clip or camera.")] = 5,
    json_out: JsonOption = False,
    largest: LargestOption = False,
    liveness: Annotated[
        bool, typer.Option("--liveness", help="Skip photos whose face is not a live one (a print or a screen).")
    ] = False,
    allow_duplicate: Annotated[
        bool,
        typer.Option("--allow-duplicate", help="Enrol a face even if it is enrolled already as someone else (twins)."),
    ] = False,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Enrol a person from photos or video: one transaction; photos without exactly one good face,
    and faces enrolled already as someone else, are skipped. From a clip (or --camera), the person
    is followed and the --faces best, most varied frames become samples; a clip with several
    people in view is refused."""
    from facerec.attendance import sources

    recognizer = recognizer_for(ctx, threads, device, model, db)
    if not paths and camera is None:
        fail("give photos, folders, clips or --camera")
    files = _files_in(paths) if paths else []
    videos = [f for f in files if sources.is_video(f)]
    images: list = [f for f in files if f not in videos]
    try:
        images += _faces_from_video(recognizer, videos, camera, seconds, faces)
        with progress_bar(len(images)) as progress:
            task = progress.add_task(f"enrolling {name}", total=len(images))
            report = recognizer.enroll(
                name,
                images,
                largest=largest or bool(videos or camera),
                liveness=liveness,
                allow_duplicate=allow_duplicate,
                progress=lambda done, total: progress.update(task, completed=done),
            )
    except FacerecError as exc:
        fail(str(exc))
    for skipped in report.skipped:
        stderr.print(f"skipped {skipped.file}: {skipped.reason}", highlight=False)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(
            f"{report.name}: added {len(report.added)}, skipped {len(report.skipped)}, "
            f"{counted(report.samples, 'sample')} held"
        )
    if not report.added:
        fail(f"no photo of {name} was added")


def _faces_from_video(recognizer, videos: list[str], camera: str | None, seconds: float, count: int) -> list:
    """(label, PNG) images of the person's best faces in each clip and in --camera's view."""
    import threading

    from facerec.attendance import clips, sources

    found: list = []
    for video in videos:
        picked = clips.enrolment_faces(recognizer, sources.frames(video, fps=10), count=count, label=video)
        stderr.print(f"{video}: {len(picked.images)} faces taken of {picked.considered} good ones", highlight=False)
        found += picked.images
    if camera is not None:
        stop = threading.Event()
        timer = threading.Timer(seconds, stop.set)
        stderr.print(f"watching {camera} for {seconds:g} s: one person alone, looking at the camera", highlight=False)
        timer.start()
        try:
            feed = sources.frames(camera, fps=10, stop=stop, reconnect=False)
            picked = clips.enrolment_faces(recognizer, feed, count=count, label=camera)
        finally:
            timer.cancel()
            stop.set()
        found += picked.images
    return found


@app.command()
def identify(
    ctx: typer.Context,
    images: Annotated[
        list[str], typer.Argument(help="Photos, folders of photos (recursive), or video clips.", show_default=False)
    ],
    json_out: JsonOption = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Candidates to list per face.")] = 1,
    threshold: ThresholdOption = None,
    liveness: Annotated[
        bool, typer.Option("--liveness", help="Also say whether each face is a live one (not a print or a screen).")
    ] = False,
    annotate: Annotated[Path | None, typer.Option("--annotate", help="Write copies with names drawn into DIR.")] = None,
    min_face_size: MinFaceOption = QualityGate().min_face_px,  # enrolment's smallest face: see FaceRecognizer
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Name every face of each photo (40 px and larger unless --min-face-size), or say unknown. A
    video clip is answered per person seen in it (each face track: name or unknown, time range,
    frames, best similarity), decided on all of the track's faces, not frame by frame."""
    from facerec.annotate import draw_faces, save_rgb
    from facerec.attendance import sources
    from facerec.detection.mtcnn import DetectorConfig

    recognizer = recognizer_for(ctx, threads, device, model, db, detector=DetectorConfig(min_face_size=min_face_size))
    if annotate is not None:
        annotate.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()

    def work(source: str) -> tuple[dict, list[str]]:
        if sources.is_video(source):
            return _identify_video(recognizer, source, top_k, threshold)
        pixels = recognizer.load(source)  # decoded once, for matching and for drawing
        found = recognizer.identify(pixels, top_k=top_k, threshold=threshold, liveness=liveness)
        if annotate is not None:
            labels = [f"{i.match.name or 'unknown'} {i.match.similarity:.2f}" for i in found]
            save_rgb(
                str(_annotated_path(annotate, source, written)), draw_faces(pixels, [i.face for i in found], labels)
            )
        lines = [
            f"box {_box_text(i.face)}\t{i.match.name or 'unknown'}\tsimilarity {i.match.similarity:.4f}"
            + (f"\t{'live' if i.liveness.live else 'not live'} {i.liveness.score:.4f}" if i.liveness else "")
            for i in found
        ]
        return {"faces": [i.to_dict() for i in found]}, lines

    _for_each_file(images, "identifying", json_out, work)


def _identify_video(recognizer, clip: str, top_k: int, threshold: float | None) -> tuple[dict, list[str]]:
    from facerec.attendance import clips, sources

    answers = clips.identify_video(
        recognizer, sources.frames(clip, fps=25, start=datetime.fromtimestamp(0, UTC)), threshold=threshold, top_k=top_k
    )
    lines = [
        f"track {a.track}\t{a.name or 'unknown'}\tsimilarity {a.similarity:.4f}\t"
        f"{a.first.timestamp():.2f}-{a.last.timestamp():.2f} s\t{a.frames} frames\tbox {_xyxy_text(a.box)}"
        for a in answers
    ]
    return {"tracks": [a.to_dict() | _seconds(a) for a in answers]}, lines or ["no face tracks"]


def _seconds(answer) -> dict:
    """Times in a clip as seconds from its start (a file has no wall clock)."""
    return {"start": round(answer.first.timestamp(), 3), "end": round(answer.last.timestamp(), 3)}


@app.command("list")
def list_people(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Everyone enrolled, with how many samples each."""
    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        people = recognizer.store.people()
    except FacerecError as exc:
        fail(str(exc))
    if json_out:
        typer.echo(json.dumps([p.to_dict() for p in people], indent=2))
        return
    if not people:
        stderr.print("nobody is enrolled yet: facerec enroll NAME PHOTOS...", highlight=False)
    for person in people:
        typer.echo(f"{person.name}\t{counted(person.samples, 'sample')}\tupdated {person.updated:%Y-%m-%d %H:%M}")


@app.command()
def show(ctx: typer.Context, name: str, json_out: JsonOption = False, db: DbOption = None) -> None:
    """One person's samples: ids, files, quality."""
    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        person = recognizer.store.person(name)
        samples = recognizer.store.samples(name)
    except FacerecError as exc:
        fail(str(exc))
    rows = [s.to_dict() for s in samples]
    if json_out:
        typer.echo(json.dumps(person.to_dict() | {"samples": rows}, indent=2))
        return
    typer.echo(f"{person.name}: {counted(person.samples, 'sample')}")
    for row in rows:
        q = row["quality"]
        typer.echo(f"  {row['id']}\t{row['file']}\tsize {q['size']:.0f}px sharpness {q['sharpness']:.0f}")


@app.command()
def rename(ctx: typer.Context, old: str, new: str, db: DbOption = None) -> None:
    """Give an enrolled person another name."""
    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        recognizer.store.rename(old, new)
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(f"renamed {old} to {new}")


@app.command()
def remove(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a person: every sample, embedding, crop, attendance event and snapshot; prints the
    receipt of what was erased (also written to the audit)."""
    from facerec.identity import erasure
    from facerec.interfaces.cli_privacy import receipt_text

    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        person = recognizer.store.person(name)
        if not yes and not typer.confirm(f"remove {person.name} and {counted(person.samples, 'sample')}?", err=True):
            fail("nothing removed")
        receipt = erasure.remove(recognizer.store, name)
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(f"removed {name} ({counted(receipt['samples'], 'sample')})")
    stderr.print(f"erased: {receipt_text(receipt)}", highlight=False)


@app.command("remove-sample")
def remove_sample(
    ctx: typer.Context,
    sample_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The sample's id (facerec show NAME).")],
    db: DbOption = None,
) -> None:
    """Delete one face sample by its id (see `facerec show NAME`)."""
    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        record = recognizer.store.remove_sample(sample_id)
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(f"removed sample {record.id} of {record.person} ({record.source_path})")


@app.command()
def reindex(ctx: typer.Context, db: DbOption = None, model: ModelOption = None) -> None:
    """Rebuild the identification index from the store: the repair for a damaged one (a missing or
    damaged index is rebuilt by itself; changes are followed in place, without rebuilding)."""
    recognizer = recognizer_for(ctx, None, None, model, db)
    try:
        recognizer.check_store()
        with progress_bar(2) as progress:
            task = progress.add_task("rebuilding the index", total=None)
            index = recognizer.person_index.rebuild(
                lambda done, total: progress.update(task, completed=done, total=total)
            )
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(f"index rebuilt: {len(index)} people of model {index.model} at store revision {index.revision}")


@app.command()
def calibrate(
    ctx: typer.Context,
    far: Annotated[
        float, typer.Option("--far", help="Share of strangers' photos that may be named (open-set false accept rate).")
    ] = 0.01,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Labelled photos FOLDER/<person>/... instead of the gallery.")
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Choose the identification threshold on your own people, and store it (it replaces the model's).

    It optimises the open-set false accept rate: each enrolled person (or each person of --folder)
    in turn plays the stranger, their photos matched against everyone else's centroid, and the
    threshold is the lowest that names at most --far of those photos. Without it, the model's
    operating point for the gallery's size applies (see `facerec identify`).
    """
    recognizer = recognizer_for(ctx, threads, None, model, db)
    try:
        value = recognizer.calibrate(far, folder)
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(
        f"threshold {value['threshold']:.4f} for a {far:g} open-set false accept rate "
        f"({value['people']} people, {value['samples']} samples from {value['source']}); stored"
    )


@app.command("export")
def export_store(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive to write (.zip).")],
    person: Annotated[
        str | None,
        typer.Option("--person", help="Only what is held about this person (a subject access request); audited."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the whole store (people, samples, embeddings, crops) to a portable archive; with
    --person, everything held about one person (samples, attendance, consent, audit lines)."""
    from facerec.files import write_atomically
    from facerec.store import archive, subject_access

    recognizer = recognizer_for(ctx, None, None, db=db)
    if person is not None:
        try:
            data = subject_access.archive(recognizer.store, person)
            write_atomically(file, lambda tmp: tmp.write_bytes(data))
        except (FacerecError, OSError) as exc:
            fail(str(exc))
        typer.echo(f"exported everything held about {person} to {file}")
        return
    try:
        people = recognizer.store.dump()
        count = archive.write(people, file)
    except (FacerecError, OSError) as exc:
        fail(str(exc))
    typer.echo(f"exported {len(people)} people, {count} samples to {file}")


@app.command("import")
def import_store(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive made by facerec export.")],
    db: DbOption = None,
) -> None:
    """Add the people of an archive to the store (one transaction; photos held already are skipped)."""
    from facerec.store import archive

    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        touched, added = recognizer.store.load(archive.read(file))
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(f"imported {added} samples of {touched} people from {file}")


@app.command()
def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a SQLite file).")],
    db: DbOption = None,
) -> None:
    """A consistent copy of the live store (SQLite), taken while it is in use; PostgreSQL: pg_dump."""
    from facerec.store import backup as backups

    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        info = backups.backup(recognizer.store, file)
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(
        f"backed up {info.people} people, {info.samples} samples (revision {info.revision}) "
        f"to {file} ({info.size / 2**20:.1f} MB)"
    )


@app.command()
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A copy made by facerec backup.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the store without asking.")] = False,
    db: DbOption = None,
) -> None:
    """Replace the whole store with a backup (one step: on failure the store is as it was)."""
    from facerec.store import backup as backups

    recognizer = recognizer_for(ctx, None, None, db=db)
    try:
        info = backups.describe(file) if file.is_file() else fail(f"{file}: no such file")
        current = len(recognizer.store.people())
        if not yes and not typer.confirm(
            f"replace the store ({current} people) with {file} ({info.people} people, {info.samples} samples)?"
        ):
            fail("nothing restored")
        info = backups.restore(recognizer.store, file)
    except FacerecError as exc:
        fail(str(exc))
    typer.echo(f"restored {info.people} people, {info.samples} samples from {file}")


@app.command()
def reembed(ctx: typer.Context, model: ModelOption = None, db: DbOption = None, threads: ThreadsOption = None) -> None:
    """Bring the store's vectors to a model (default: the one in use): re-centre, or re-embed the crops.

    Vectors of the same model made without its centre (stores of facerec before 0.2) or on another
    are re-centred exactly, in seconds; those of another model are embedded again from the stored
    crops. Unknown sightings follow. A calibrated threshold made for the old vectors is dropped.
    """
    recognizer = recognizer_for(ctx, threads, None, None, db)
    target = (ctx.obj or Settings()).merged(threads, None, model, db).model
    try:
        with progress_bar(2) as progress:
            task = progress.add_task("re-embedding crops", total=None)
            done = recognizer.reembed(
                target, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
    except FacerecError as exc:
        fail(str(exc))
    if not done.samples and not done.sightings:
        typer.echo(f"nothing to do: every vector is already one of {done.model}'s")
        return
    typer.echo(
        f"re-embedded {done.samples} samples with {done.model} "
        f"({done.recentred} re-centred, {done.reembedded} embedded again from their crops; "
        f"{done.sightings} unknown sightings)"
    )
    if done.calibration_dropped:
        stderr.print("the calibrated threshold was made for the old vectors and was removed: run `facerec calibrate`")


# The attendance, server and training commands register on the same app.
from facerec.interfaces import cli_attendance, cli_events, cli_privacy, cli_train  # noqa: E402, F401

if __name__ == "__main__":
    app()
