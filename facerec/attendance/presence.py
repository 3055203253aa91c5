"""Who is in view: turns per-frame recognitions into confirmed presences, in pure logic.

A key (a person's name, or an unknown face's track) is *confirmed* once it was recognised in at
least K processed frames within T seconds (``3/2s``), so a one-frame mistake never checks anyone
in. It stays *in view* while it keeps being seen; a gap longer than T ends the visit, and the
next confirmation is a new visit (which the attendance log may fold into the same event).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from facerec.errors import FacerecError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, default_unit: str = "s") -> timedelta:
    """``"2s"``, ``"8h"``, ``"30d"``, ``"1.5m"`` -> timedelta; a bare number is in ``default_unit``."""
    match = _DURATION.match(text or "")
    if not match:
        raise FacerecError(f"not a duration: {text!r} (use e.g. 2s, 15m, 8h, 30d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2] or default_unit])


# Times a person may type (reports, check-ins): far enough from datetime's ends that a day or a
# time zone added to them never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
SIGHTINGS_FROM = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str, zone: tzinfo | None = None, what: str = "time") -> datetime:
    """An ISO 8601 date or time; one without an offset is taken in ``zone`` (None: the machine's)."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise FacerecError(
            f"{what} takes an ISO 8601 date or time such as 2026-11-24T08:30:00+01:00, not {text!r}"
        ) from None
    try:
        if not moment.tzinfo:
            moment = moment.astimezone() if zone is None else moment.replace(tzinfo=zone)
        inside = EARLIEST <= moment <= LATEST
    except (OverflowError, ValueError):  # year 1 or 9999 moved by an offset
        inside = False
    if not inside:
        raise FacerecError(f"{what} must lie between {EARLIEST.year} and {LATEST.year}, not {text!r}")
    return moment


def check_sighting_time(moment: datetime, what: str = "time") -> datetime:
    """A time a face was seen: not in the future (a day's clock skew allowed) nor before 1970."""
    now = datetime.now(UTC)
    if moment > now + timedelta(days=1):
        raise FacerecError(f"{what} {moment.isoformat()} is in the future (now is {now.isoformat(timespec='seconds')})")
    if moment < SIGHTINGS_FROM:
        raise FacerecError(f"{what} {moment.isoformat()} is before {SIGHTINGS_FROM.year}: no camera saw that")
    return moment


@dataclass(frozen=True)
class ConfirmRule:
    """K sightings within T: ``ConfirmRule.parse("3/2s")``."""

    sightings: int = 3
    window: timedelta = timedelta(seconds=2)

    @classmethod
    def parse(cls, text: str) -> ConfirmRule:
        count, _, window = (text or "").partition("/")
        if not count.strip().isdigit() or int(count) < 1 or not window:
            raise FacerecError(f"--confirm takes K/T, e.g. 3/2s (K sightings within T), not {text!r}")
        return cls(int(count), parse_duration(window))


@dataclass
class _Track:
    times: deque = field(default_factory=deque)  # recent sighting times, within the window
    confirmed: bool = False
    first: datetime | None = None  # first sighting of this visit
    last: datetime | None = None
    count: int = 0  # sightings of this visit once confirmed


@dataclass(frozen=True)
class Seen:
    """What one sighting means: ``state`` is "pending", "confirmed" (this sighting completes K in
    T: a check-in) or "in_view" (already confirmed); ``first`` is when the visit began and
    ``count`` the sightings so far in it."""

    state: str
    first: datetime
    count: int


class Presence:
    """Tracks keys over time; feed sightings in time order with :meth:`observe`."""

    def __init__(self, rule: ConfirmRule = ConfirmRule()) -> None:
        self.rule = rule
        self._tracks: dict[object, _Track] = {}

    def observe(self, key: object, moment: datetime) -> Seen:
        track = self._tracks.setdefault(key, _Track())
        if track.last is not None and moment - track.last > self.rule.window:
            track.times.clear()  # out of view for longer than T: a new visit
            track.confirmed, track.first = False, None
        track.first = track.first or moment
        track.last = moment
        track.times.append(moment)
        while track.times and moment - track.times[0] > self.rule.window:
            track.times.popleft()
        if track.confirmed:
            track.count += 1
            return Seen("in_view", track.first, track.count)
        if len(track.times) >= self.rule.sightings:
            track.confirmed, track.first, track.count = True, track.times[0], len(track.times)
            return Seen("confirmed", track.first, track.count)
        return Seen("pending", track.first, len(track.times))

    def in_view(self, moment: datetime) -> list[object]:
        """Confirmed keys seen within T of ``moment``."""
        return [
            key
            for key, track in self._tracks.items()
            if track.confirmed and track.last is not None and moment - track.last <= self.rule.window
        ]
