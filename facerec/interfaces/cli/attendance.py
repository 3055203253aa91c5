"""``facerec attend``, ``report``, ``unknowns``, ``assign``, ``purge``, ``retention``, ``dedupe``
and ``require-liveness``: check-ins from cameras and their records. Only ``attend``, ``assign`` and
``unknowns --clusters`` load the models; the others open the store alone."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from facerec.attendance.presence import ConfirmRule, check_sighting_time, parse_duration, parse_time, retention_days
from facerec.interfaces.cli.console import stderr
from facerec.interfaces.cli.errors import fail, reported
from facerec.interfaces.cli.events import DeliverOption, delivering
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import (
    DbOption,
    DeviceOption,
    JsonOption,
    LivenessThresholdOption,
    ModelOption,
    ThreadsOption,
    ThresholdOption,
)
from facerec.interfaces.cli.settings import checked_settings, open_store, recognizer_for, store_for
from facerec.interfaces.cli.signals import stop_on_signals
from facerec.types import MAX_ID, counted

if TYPE_CHECKING:
    from facerec.attendance.checkins import Summary


@app.command()
def attend(
    ctx: typer.Context,
    source: Annotated[
        list[str],
        typer.Argument(
            help="Video files, camera indexes, rtsp:// or http:// (MJPEG) URLs, or folders of images: one or more, "
            "watched together.",
            show_default=False,
        ),
    ],
    fps: Annotated[float, typer.Option("--fps", help="Frames processed per second of source time.")] = 5.0,
    confirm: Annotated[
        str,
        typer.Option("--confirm", help="K/T: check a face track in once it holds K faces; a track unseen for T ends."),
    ] = "3/2s",
    dedupe: Annotated[
        str | None, typer.Option("--dedupe", help="Seen again within this, a person updates the same event (8h).")
    ] = None,
    start_time: Annotated[
        str | None, typer.Option("--start-time", help="Time of a video's first frame, ISO 8601 (default: now).")
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option("--source-name", help="Name events by this source (default SOURCE); once per SOURCE, in order."),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Folder: keep waiting for new images.")] = False,
    reconnect: Annotated[
        bool,
        typer.Option(
            "--reconnect/--no-reconnect",
            help="Reopen a camera or stream that drops, with back-off, until stopped (--no-reconnect: end with it).",
        ),
    ] = True,
    unknowns: Annotated[bool, typer.Option("--unknowns", help="Keep unknown faces as sightings for review.")] = False,
    threshold: ThresholdOption = None,
    liveness: Annotated[
        bool | None,
        typer.Option(
            "--liveness/--no-liveness",
            help="Check in only live faces; record prints and screens as spoof events "
            "(default: the store's setting, see facerec require-liveness).",
        ),
    ] = None,
    liveness_threshold: LivenessThresholdOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per event, per line.")] = False,
    deliver: DeliverOption = True,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Check people in from cameras, streams, videos or folders; one line per event as it happens.
    A camera or stream is read by its own thread keeping the newest frame, and reopened when it
    drops; at the end each live source says how many frames it read, processed and skipped."""
    from facerec.attendance import sources
    from facerec.attendance.checkins import Attendance

    names = list(name or [])
    if names and len(names) != len(source):
        fail(f"give --source-name once per SOURCE ({len(source)}), or not at all; got {len(names)}")
    recognizer = recognizer_for(ctx, threads, device, model, db, liveness_threshold=liveness_threshold)
    events = 0
    counts = [sources.SourceStats() for _ in source]
    trackers: list[Attendance] = []
    rule = ConfirmRule()
    # Ctrl-C or SIGTERM: stop after the frame in hand; an error is told before the last deliveries
    with delivering(recognizer, deliver), stop_on_signals() as stop, reported():
        try:
            rule = ConfirmRule.parse(confirm)
            window = parse_duration(dedupe, "h") if dedupe else None
            start = parse_time(start_time, what="--start-time") if start_time else None
            start = check_sighting_time(start, "--start-time") if start else None
            feeds = [
                sources.frames(
                    spec,
                    fps=fps,
                    start=start,
                    watch=watch,
                    stop=stop,
                    reconnect=reconnect,
                    stats=stats,
                    notice=lambda message: stderr.print(message, highlight=False),
                )
                for spec, stats in zip(source, counts, strict=True)
            ]
            trackers = [
                Attendance(
                    recognizer,
                    label,
                    rule=rule,
                    dedupe=window,
                    keep_unknowns=unknowns,
                    threshold=threshold,
                    liveness=liveness,
                )
                for label in names or source
            ]
            for which, frame in sources.merged(feeds, stop):
                for event in trackers[which].process(frame.pixels, frame.time):
                    events += 1
                    _print_event(event, json_out)
            for tracker in trackers:  # tracks still in view when the sources ended
                for event in tracker.finish():
                    events += 1
                    _print_event(event, json_out)
        except KeyboardInterrupt:  # a second Ctrl-C; each event is its own transaction, so still whole
            stop.set()
    for which, (spec, stats) in enumerate(zip(names or source, counts, strict=True)):
        if stats.read:
            stderr.print(
                f"{spec}: {stats.read} frames read, {stats.processed} processed, {stats.skipped} skipped "
                f"(the newest kept while busy), {stats.reconnects} reconnects",
                highlight=False,
            )
        if which < len(trackers):
            stderr.print(f"{spec}: {_describe(trackers[which].summary)}", highlight=False)
        frames = trackers[which].summary.frames if which < len(trackers) else 0
        if 0 < frames < rule.sightings and not stop.is_set():
            stderr.print(
                f"{spec}: {counted(frames, 'frame')} is too short for the confirm rule {confirm} (a face must "
                f"be seen in {rule.sightings} frames of its track): nobody can be checked in from it; "
                "--confirm 1/1s checks in from a single photo",
                highlight=False,
            )
    if stop.is_set():
        stderr.print(f"stopped; {events} events written", highlight=False)
        return
    empty = [spec for spec, tracker in zip(names or source, trackers, strict=False) if not tracker.summary.frames]
    if empty:
        fail(
            f"no frames from {', '.join(empty)}: not a video, camera, stream or folder of images that "
            "could be read, or an empty one"
        )


def _describe(done: Summary) -> str:
    """What one source of an ``attend`` run gave: frames, events by kind, face tracks."""
    e = done.events
    return (
        f"{counted(done.frames, 'frame')} processed; {counted(e.get('check_in', 0), 'check-in')}, "
        f"{counted(e.get('update', 0), 'update')}, {counted(e.get('unknown', 0), 'unknown sighting')}, "
        f"{counted(e.get('spoof', 0), 'spoof')}; {counted(done.tracks, 'face track')}, "
        f"{counted(done.detections, 'whole detection')}"
    )


def _print_event(event, json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))
        return
    who = event.name or f"{'spoof' if event.event == 'spoof' else 'unknown sighting'} {event.event_id}"
    typer.echo(
        f"{event.time.isoformat()}\t{event.event}\t{who}\tsimilarity {event.similarity:.4f}"
        f"\ttrack {event.track} ({event.frames} frames since {(event.first_seen or event.time).isoformat()})"
    )


@app.command()
def report(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option("--date", help="One day, YYYY-MM-DD (default: today).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start, ISO 8601 date or time.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), ISO 8601 date or time.")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Time zone, e.g. Europe/Paris (default: local).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    group: Annotated[str | None, typer.Option("--group", help="Only this group's members (facerec group).")] = None,
    db: DbOption = None,
) -> None:
    """Who attended: first and last seen per source, and who was enrolled but absent."""
    from datetime import date, datetime

    from facerec.attendance import report as reports

    settings = checked_settings(ctx, db)
    zone = reports.zone(tz)
    if start or end:
        if day:
            fail("give --date or --from/--to, not both")
        lo = parse_time(start, zone, "--from") if start else datetime(1970, 1, 1, tzinfo=zone)
        hi = parse_time(end, zone, "--to") if end else datetime.now(zone)
    else:
        try:
            chosen = date.fromisoformat(day) if day else datetime.now(zone).date()
        except ValueError:
            fail(f"--date takes YYYY-MM-DD, not {day!r}")
        lo, hi = reports.day_range(chosen, zone)
    result, _events = reports.gather(open_store(settings), lo, hi, zone, group)
    typer.echo(reports.render(result, fmt))


@app.command("unknowns")
def list_unknowns(
    ctx: typer.Context,
    json_out: JsonOption = False,
    clusters: Annotated[
        bool, typer.Option("--clusters", help="Number each sighting by the unknown person it is (alike sightings).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Unknown sightings kept by `facerec attend --unknowns`, for review."""
    from facerec.attendance.clusters import unknown_docs

    recognizer = recognizer_for(ctx, None, None, db=db) if clusters else None  # the models place them
    docs = unknown_docs(recognizer.store if recognizer else store_for(ctx, db), recognizer)
    if json_out:
        typer.echo(json.dumps(docs, indent=2))
        return
    for d in sorted(docs, key=lambda d: (d.get("cluster", 0), d["id"])):
        who = f"unknown {d['cluster']}\t" if "cluster" in d else ""
        typer.echo(f"{who}{d['id']}\t{d['source']}\t{d['first_seen']}\t{counted(d['sightings'], 'sighting')}")


@app.command()
def assign(
    ctx: typer.Context,
    sighting: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="Unknown sighting id (see facerec unknowns).")],
    name: Annotated[str, typer.Argument(help="Who it is (enrolled if new).")],
    allow_duplicate: Annotated[
        bool,
        typer.Option("--allow-duplicate", help="Enrol it even if it is identified as someone else (twins)."),
    ] = False,
    db: DbOption = None,
    model: ModelOption = None,
) -> None:
    """Enrol an unknown sighting's face as a sample of NAME (refused, naming who, if the face is
    identified as someone else enrolled)."""
    from facerec.attendance.assign import assign_sightings
    from facerec.store.attendance_log import AttendanceLog

    recognizer = recognizer_for(ctx, None, None, model, db)
    log = AttendanceLog(recognizer.store)
    samples = assign_sightings(recognizer, log, [sighting], name, allow_duplicate)
    typer.echo(f"enrolled sighting {sighting} as {name} ({counted(samples, 'sample')} held)")


@app.command()
def purge(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option("--older-than", help="Age, e.g. 30d, 12h.")],
    db: DbOption = None,
) -> None:
    """Delete attendance events, unknown sightings and spoof events (with snapshots) last seen before the age."""
    from facerec.store.attendance_log import AttendanceLog

    store = store_for(ctx, db)
    gone = AttendanceLog(store).purge(parse_duration(older_than, "d"))
    typer.echo(
        f"purged {gone['events']} events, {gone['unknown_sightings']} unknown sightings "
        f"and {gone['spoof_events']} spoof events"
    )


@app.command()
def retention(
    ctx: typer.Context,
    age: Annotated[str | None, typer.Argument(help="Keep attendance this long, e.g. 30d; 'off' keeps all.")] = None,
    db: DbOption = None,
) -> None:
    """Show or set how long attendance is kept; older records are purged automatically."""
    from facerec.identity import erasure
    from facerec.store.attendance_log import AttendanceLog

    store = store_for(ctx, db)
    log = AttendanceLog(store)
    if age is None:
        settings = log.settings()
    else:
        settings = log.configure(retention_days=retention_days(age))
        erasure.apply_retention(store, settings)
    days = settings["retention_days"]
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
    from facerec.store.attendance_log import AttendanceLog

    store = store_for(ctx, db)
    log = AttendanceLog(store)
    if window is not None:
        log.configure(dedupe_seconds=parse_duration(window, "h").total_seconds())
    seconds = log.settings()["dedupe_seconds"]
    typer.echo(f"a person seen again within {seconds / 3600:g} hours updates the same event")


@app.command("require-liveness")
def require_liveness(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Argument(help="on or off (default: show the setting).")] = None,
    db: DbOption = None,
) -> None:
    """Show or set whether check-ins need a live face by default (attend and the HTTP check-in)."""
    from facerec.store.attendance_log import AttendanceLog

    if state not in (None, "on", "off"):
        fail(f"say on or off, not {state!r}")
    store = store_for(ctx, db)
    log = AttendanceLog(store)
    settings = log.configure(liveness=state == "on") if state is not None else log.settings()
    if settings["liveness"]:
        typer.echo("check-ins need a live face: prints and screens are recorded as spoof events")
    else:
        typer.echo("check-ins do not check liveness unless asked (attend --liveness, liveness=true)")
