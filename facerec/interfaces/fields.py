"""Values clients send as text, read the same way by every endpoint: record ids in paths, time
zones, times and yes/no flags."""

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import Path as PathParam
from pydantic import WithJsonSchema

from facerec.attendance.presence import parse_time
from facerec.interfaces.http_rules import Text
from facerec.types import MAX_ID

RecordId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
# A report's time zone: an IANA name (the schema lists them, so a client can offer them).
Zone = Annotated[Text, WithJsonSchema({"type": "string", "enum": sorted(available_timezones())})]


def moment(value: Any, what: str = "time") -> datetime:
    """Now when not given; without an offset, UTC. A bad value is a FacerecError: 422."""
    return datetime.now(UTC) if value in (None, "") else parse_time(str(value), UTC, what)


def flag(value: Any) -> bool:
    """A form field's yes (``1``, ``true``, ``yes``, ``on``); anything else is no."""
    return str(value or "").lower() in ("1", "true", "yes", "on")
