"""Confirmation logic (K sightings within T) and durations, on synthetic times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facerec.attendance.presence import ConfirmRule, Presence, parse_duration
from facerec.errors import FacerecError

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_three_sightings_within_two_seconds_confirm_once_then_stay_in_view():
    presence = Presence(ConfirmRule(3, timedelta(seconds=2)))
    states = [presence.observe("alice", at(t)).state for t in (0.0, 0.2, 0.4, 0.6, 0.8)]
    assert states == ["pending", "pending", "confirmed", "in_view", "in_view"]
    seen = presence.observe("alice", at(1.0))
    assert seen.first == at(0.0) and seen.count == 6


def test_a_one_frame_mistake_never_confirms():
    presence = Presence(ConfirmRule(3, timedelta(seconds=2)))
    assert presence.observe("bob", at(0)).state == "pending"
    for t in (3, 6, 9):  # sparse sightings: never 3 within 2 s
        assert presence.observe("bob", at(t)).state == "pending"


def test_a_gap_longer_than_the_window_starts_a_new_visit():
    presence = Presence(ConfirmRule(2, timedelta(seconds=2)))
    assert [presence.observe("a", at(t)).state for t in (0, 0.5)] == ["pending", "confirmed"]
    assert presence.observe("a", at(5)).state == "pending"
    seen = presence.observe("a", at(5.5))
    assert seen.state == "confirmed" and seen.first == at(5)
    assert presence.in_view(at(6)) == ["a"] and presence.in_view(at(9)) == []


def test_people_are_tracked_independently():
    presence = Presence(ConfirmRule(2, timedelta(seconds=1)))
    presence.observe("a", at(0))
    assert presence.observe("b", at(0.1)).state == "pending"
    assert presence.observe("a", at(0.2)).state == "confirmed"


@given(st.lists(st.floats(min_value=0, max_value=60, allow_nan=False), min_size=1, max_size=40))
def test_confirmation_happens_exactly_when_k_sightings_fit_in_t(times):
    rule = ConfirmRule(3, timedelta(seconds=2))
    presence = Presence(rule)
    times = sorted(times)
    for i, t in enumerate(times):
        state = presence.observe("x", at(t)).state
        if state == "confirmed":
            assert i >= 2 and t - times[i - 2] <= 2.0


@pytest.mark.parametrize(
    ("text", "seconds"), [("2s", 2), ("8h", 28800), ("30d", 2592000), ("1.5m", 90), ("500ms", 0.5), ("7", 7)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


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
