"""The outbox on SQLite and PostgreSQL: an event is written with its change or not at all, ids come
in commit order (a cursor never skips one), purges keep what is not delivered yet."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from samples import sample

from facerec.errors import DuplicateNameError, UnknownPersonError
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.groups import Groups
from facerec.store.outbox import Outbox
from facerec.store.people import People
from facerec.store.samples import Samples
from facerec.store.spoofs import SpoofEvents
from facerec.store.subscriptions import Subscriptions
from facerec.store.unknowns import UnknownSightings

HOURS = timedelta(hours=8)


def _checkin(log: AttendanceLog, name: str, source: str = "door", at: datetime | None = None):
    moment = at or datetime.now(UTC)
    return log.record(name, source, moment, moment, 0.8, b"png", 1, HOURS)


def test_every_change_writes_its_event_in_its_own_transaction(store_url):
    store = Store(store_url)
    log, outbox = AttendanceLog(store), Outbox(store)
    Samples(store).add("alice", [sample(1)])
    Samples(store).add("alice", [sample(2)])  # more samples of someone enrolled: no new event
    Groups(store).add("staff", ["alice"])
    event, new = _checkin(log, "alice")
    _checkin(log, "alice")
    now = datetime.now(UTC)
    SpoofEvents(log.store).add("door", now, now, "alice", 0.7, 0.9, b"png", 3)
    UnknownSightings(log.store).add("door", now, now, 0.2, "casia-webface", None, sample(3).embedding, {}, b"png", 1)
    People(store).rename("alice", "alicia")
    People(store).remove("alicia")
    events = outbox.after(0)
    assert [e.type for e in events] == [
        "person.enrolled",
        "checkin",
        "checkin.updated",
        "spoof",
        "unknown",
        "person.renamed",
        "person.removed",
    ]
    assert [e.id for e in events] == sorted({e.id for e in events})
    assert events[1].data == event.to_dict() and events[1].groups == ("staff",)
    assert events[3].data["claimed"] == "alice" and events[3].groups == ("staff",)
    assert events[5].data == {"name": "alicia", "old_name": "alice", "person_id": event.person_id}
    assert outbox.after(events[4].id, types=["person.removed"])[0].data["name"] == "alicia"

    # Failed changes leave no event behind.
    Samples(store).add("bob", [sample(4)])
    Samples(store).add("carol", [sample(5)])
    last = outbox.last_id()
    with pytest.raises(DuplicateNameError):
        People(store).rename("bob", "carol")
    with pytest.raises(UnknownPersonError):
        _checkin(log, "nobody")
    assert outbox.last_id() == last and outbox.after(last) == []


def test_a_cursor_never_skips_an_event_written_concurrently(store_url):
    """Two writers check people in at once while a reader follows the cursor: it must see every
    event exactly once. Without commit-ordered ids (PostgreSQL: the advisory lock) an id
    committed after a higher one is read would be skipped."""
    store = Store(store_url)
    log, outbox = AttendanceLog(store), Outbox(store)
    for seed, name in enumerate(("ann", "ben"), 1):
        Samples(store).add(name, [sample(seed)])
    start = outbox.last_id()
    done = threading.Event()
    seen: list[int] = []

    def follow() -> None:
        cursor = start
        while True:
            finished = done.is_set()
            for event in outbox.after(cursor):
                seen.append(event.id)
                cursor = event.id
            if finished:
                return

    def write(name: str) -> None:
        for i in range(40):
            _checkin(log, name, source=f"door-{i}")  # a new event each time

    reader = threading.Thread(target=follow)
    writers = [threading.Thread(target=write, args=(n,)) for n in ("ann", "ben")]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join()
    assert seen == [e.id for e in outbox.after(start, limit=1000)]
    assert len(seen) == 80


def test_purge_keeps_what_an_enabled_subscription_has_not_had(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    outbox, subscriptions = Outbox(store), Subscriptions(store)
    Samples(store).add("alice", [sample(1)])
    subscription, secret = subscriptions.add("webhook", "https://example.org/hook", from_start=True)
    assert secret.startswith("whsec_") and subscription.position == 0
    log = AttendanceLog(store)
    for i in range(3):
        _checkin(log, "alice", source=f"s{i}")
    ids = [e.id for e in outbox.after(0)]
    owner = "test"
    assert subscriptions.claim(subscription.id, owner, timedelta(seconds=30)) is not None
    assert subscriptions.claim(subscription.id, "other", timedelta(seconds=30)) is None  # leased
    assert subscriptions.advance(subscription.id, owner, ids[1], timedelta(seconds=30), sent=True)
    later = datetime.now(UTC) + timedelta(days=1)
    assert outbox.purge(timedelta(hours=1), now=later) == 2  # delivered ones only
    assert [e.id for e in outbox.after(0)] == ids[2:]
    subscriptions.remove(subscription.id)
    assert outbox.purge(timedelta(hours=1), now=later) == 2
    assert outbox.after(0) == []
    Samples(store).add("bob", [sample(2)])
    assert outbox.after(0)[0].id > ids[-1]  # ids are never reused after a purge


def test_concurrent_enrollments_and_removals_never_deadlock(store_url):
    """Every writer takes the event lock last (PostgreSQL): one enrolling new people while
    another removes people both finish, each event once."""
    store = Store(store_url)
    for i in range(25):
        Samples(store).add(f"old{i}", [sample(100 + i)])
    start = Outbox(store).last_id()
    failures: list[Exception] = []

    def work(job) -> None:
        try:
            for i in range(25):
                job(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    jobs = [lambda i: Samples(store).add(f"new{i}", [sample(200 + i)]), lambda i: People(store).remove(f"old{i}")]
    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    events = Outbox(store).after(start, 1000)
    assert sorted(e.type for e in events) == ["person.enrolled"] * 25 + ["person.removed"] * 25
