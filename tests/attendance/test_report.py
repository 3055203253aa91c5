"""The report's table: columns that line up whatever the lengths of names and sources."""

from __future__ import annotations

from datetime import UTC, datetime

from facerec.attendance.report import Report, Row, render


def test_the_table_columns_line_up():
    start, end = datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)
    seen = datetime(2026, 11, 24, 8, tzinfo=UTC)
    rows = [
        Row("alice", "front door", seen, seen, 16, 0.9),
        Row("bob", "entrance.mp4", seen, seen, 1, 0.8),
        Row("christopher", "gym", seen, seen, 3, 0.7),
    ]
    lines = render(Report(start, end, rows, ["dan"]), "table").splitlines()
    table = [line for line in lines if "first " in line]
    assert len(table) == 3
    for column in ("first ", "last ", "sightings "):
        assert len({line.index(column) for line in table}) == 1, (column, table)
    assert lines[-1].startswith("dan ") and lines[-1].endswith("absent")
