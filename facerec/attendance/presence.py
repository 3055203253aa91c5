"""The attendance rule and times as people type them: ``--confirm K/T``, durations, dates.

A face track is decided once it holds K faces, and ends when unseen for T seconds
(:mod:`facerec.attendance.checkins`), so a one-frame mistake never checks anyone in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from facerec.errors import FacerecError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 365 * 86400}


def parse_duration(text: str, default_unit: str = "s") -> timedelta:
    """``"2s"``, ``"8h"``, ``"30d"``, ``"1.5m"`` -> timedelta; a bare number is in ``default_unit``."""
    match = _DURATION.match(text or "")
    if not match:
        raise FacerecError(f"not a duration: {text!r} (use e.g. 2s, 15m, 8h, 30d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2] or default_unit])


def retention_days(text: str) -> float | None:
    """A retention someone typed (``"30d"``, ``"3y"``, a bare number of days) in days; ``"off"``:
    None, kept until purged."""
    return None if text == "off" else parse_duration(text, "d").total_seconds() / 86400


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
    """K faces of a track, T the longest a track may go unseen: ``ConfirmRule.parse("3/2s")``."""

    sightings: int = 3
    window: timedelta = timedelta(seconds=2)

    @classmethod
    def parse(cls, text: str) -> ConfirmRule:
        count, _, window = (text or "").partition("/")
        if not count.strip().isdigit() or int(count) < 1 or not window:
            raise FacerecError(f"--confirm takes K/T, e.g. 3/2s (K sightings within T), not {text!r}")
        return cls(int(count), parse_duration(window))
