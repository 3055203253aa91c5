"""The confirm rule, durations and times as people type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facerec.attendance.presence import ConfirmRule, parse_duration, retention_days
from facerec.errors import FacerecError

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2s", 2), ("8h", 28800), ("30d", 2592000), ("1.5m", 90), ("500ms", 0.5), ("7", 7), ("1y", 365 * 86400)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_retentions_are_in_days_and_off_keeps_all():
    assert [retention_days(t) for t in ("3y", "1.5y", "90d", "30", "off")] == [1095, 547.5, 90, 30, None]
    with pytest.raises(FacerecError):
        retention_days("forever")


@pytest.mark.parametrize("text", ["", "soon", "3/", "0/2s", "x/2s", "3/abc"])
def test_bad_confirm_rules_are_refused(text):
    with pytest.raises(FacerecError):
        ConfirmRule.parse(text)


def test_confirm_rule_parses():
    assert ConfirmRule.parse("3/2s") == ConfirmRule(3, timedelta(seconds=2))
    assert ConfirmRule.parse("5/1.5s") == ConfirmRule(5, timedelta(seconds=1.5))


def test_times_keep_their_offset_or_take_the_given_zone():
    from zoneinfo import ZoneInfo

    from facerec.attendance.presence import parse_time

    assert parse_time("2026-11-24T08:00:00+01:00") == datetime(2026, 11, 24, 7, tzinfo=UTC)
    paris = parse_time("2026-11-24T08:00:00", ZoneInfo("Europe/Paris"))
    assert paris == datetime(2026, 11, 24, 7, tzinfo=UTC)
    assert parse_time("2026-11-24", UTC) == datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_time("2026-11-24T08:00:00").tzinfo is not None  # the machine's zone
    with pytest.raises(FacerecError, match="--from takes an ISO 8601"):
        parse_time("yesterday", UTC, "--from")
