"""Attendance reports: who came, first and last seen, per source; who was enrolled but absent.

Pure functions from event records and names to rows and text, so the report is tested without
a store. Times are shown in the report's time zone; the store keeps UTC.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facerec.errors import FacerecError
from facerec.store.attendance_log import EventRecord
from facerec.store.spoofs import SpoofRecord


def zone(name: str | None) -> tzinfo:
    """An IANA zone (``Europe/Paris``), ``UTC``, or the machine's zone for None."""
    if not name:
        return cast(tzinfo, datetime.now().astimezone().tzinfo)  # astimezone() always sets one
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FacerecError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris or UTC)") from None


def day_range(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tz)
    return start, datetime.combine(day + timedelta(days=1), time(), tz)


@dataclass(frozen=True)
class Row:
    name: str
    source: str
    first_seen: datetime
    last_seen: datetime
    sightings: int
    best_similarity: float


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    present: list[Row]
    absent: list[str]
    spoofs: list[SpoofRecord] = field(default_factory=list)  # prints and screens held up, if checked

    def to_dict(self) -> dict:
        # build() gives an aware start; a hand-made naive one passes None: astimezone's local time
        zone = cast(tzinfo, self.start.tzinfo)
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "present": [
                {
                    "name": r.name,
                    "source": r.source,
                    "first_seen": r.first_seen.isoformat(),
                    "last_seen": r.last_seen.isoformat(),
                    "sightings": r.sightings,
                    "best_similarity": round(r.best_similarity, 4),
                }
                for r in self.present
            ],
            "absent": self.absent,
            "spoofs": [spoof.to_dict(zone) for spoof in self.spoofs],
        }


def build(
    events: list[EventRecord],
    enrolled: list[str],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    spoofs: Sequence[SpoofRecord] = (),
) -> Report:
    """One row per person and source: the earliest first-seen and latest last-seen of their events
    in [start, end), sightings summed; and the spoof events of the range, as they are."""
    rows: dict[tuple[str, str], Row] = {}
    for e in events:
        if e.last_seen < start or e.first_seen >= end:
            continue
        key = (e.person, e.source)
        old = rows.get(key)
        first, last = e.first_seen.astimezone(tz), e.last_seen.astimezone(tz)
        if old:
            first, last = min(first, old.first_seen), max(last, old.last_seen)
        rows[key] = Row(
            e.person,
            e.source,
            first,
            last,
            e.sightings + (old.sightings if old else 0),
            max(e.best_similarity, old.best_similarity if old else -1.0),
        )
    present = sorted(rows.values(), key=lambda r: (r.name, r.source))
    came = {r.name for r in present}
    absent = sorted(n for n in enrolled if n not in came)
    return Report(start.astimezone(tz), end.astimezone(tz), present, absent, list(spoofs))


def gather(store, start: datetime, end: datetime, tz: tzinfo, group: str | None = None) -> tuple[Report, list]:
    """The report of [start, end) from the store, and its events: everyone enrolled, or only the
    members of ``group`` (then without spoof events, which belong to no group)."""
    from facerec.store.attendance_log import AttendanceLog
    from facerec.store.groups import Groups
    from facerec.store.people import People
    from facerec.store.spoofs import SpoofEvents

    log = AttendanceLog(store)
    people = Groups(store).members(group) if group else [p.name for p in People(store).all()]
    events = [e for e in log.events(start, end) if not group or e.person in people]
    return build(events, people, start, end, tz, [] if group else SpoofEvents(store).between(start, end)), events


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name", "status", "source", "first_seen", "last_seen", "sightings"])
        for r in report.present:
            writer.writerow(
                [r.name, "present", r.source, r.first_seen.isoformat(), r.last_seen.isoformat(), r.sightings]
            )
        for name in report.absent:
            writer.writerow([name, "absent", "", "", "", 0])
        zone = report.start.tzinfo
        for spoof in report.spoofs:
            first, last = spoof.first_seen.astimezone(zone).isoformat(), spoof.last_seen.astimezone(zone).isoformat()
            writer.writerow([spoof.claimed or "", "spoof", spoof.source, first, last, spoof.sightings])
        return out.getvalue().rstrip("\n")
    if fmt == "table":
        lines = [f"Attendance {report.start.isoformat()} to {report.end.isoformat()}"]
        width = max([len(r.name) for r in report.present] + [len(n) for n in report.absent] + [4])
        places = max([len(r.source) for r in report.present] + [0])  # each column starts where the one above does
        for r in report.present:
            lines.append(
                f"{r.name:<{width}}  {r.source:<{places}}  first {r.first_seen:%Y-%m-%d %H:%M:%S}  "
                f"last {r.last_seen:%Y-%m-%d %H:%M:%S}  sightings {r.sightings}"
            )
        lines.append(f"present: {len({r.name for r in report.present})}, absent: {len(report.absent)}")
        lines.extend(f"{name:<{width}}  absent" for name in report.absent)
        if report.spoofs:
            lines.append(f"spoof attempts (prints or screens held up): {len(report.spoofs)}")
        for spoof in report.spoofs:
            seen = spoof.first_seen.astimezone(report.start.tzinfo)
            lines.append(
                f"spoof {spoof.id}  {spoof.source}  {seen:%Y-%m-%d %H:%M:%S}"
                f"  as {spoof.claimed or 'nobody enrolled'}  sightings {spoof.sightings}"
            )
        return "\n".join(lines)
    raise FacerecError(f"unknown report format {fmt!r}; use table, csv or json")
