"""Webhooks delivered by a real deliverer to a real HTTP receiver on 127.0.0.1 that fails in every
way a receiver can: all events arrive, in order, signed, once it is back."""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from receiver import Receiver, first_arrivals, verify_all
from samples import sample

from facerec.events import signing
from facerec.events.deliverer import Deliverer
from facerec.events.manage import add_webhook, allow_host
from facerec.events.urls import BadUrlError, check_webhook_url
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.groups import Groups
from facerec.store.outbox import Outbox
from facerec.store.samples import Samples
from facerec.store.subscriptions import Subscriptions

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
FAST = {"retry_base_seconds": 0.05, "retry_max_seconds": 0.3, "timeout_seconds": 0.5, "lease_seconds": 5}


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    Samples(store).add("alice", [sample(1)])
    Samples(store).add("bob", [sample(2)])
    Outbox(store).configure(**FAST)
    allow_host(store, "127.0.0.1")
    return store


@contextlib.contextmanager
def delivering(store):
    """A deliverer thread (it reads the settings as they are when it starts)."""
    stop = threading.Event()
    thread = threading.Thread(target=Deliverer(store).run, args=(stop, 0.02))
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture
def deliverer(store):
    with delivering(store):
        yield


def _checkins(store: Store, count: int, prefix: str) -> None:
    log = AttendanceLog(store)
    for i in range(count):
        moment = datetime.now(UTC)
        name = "alice" if i % 2 else "bob"
        log.record(name, f"{prefix}-{i // 4}", moment, moment, 0.8, b"png", 1, timedelta(hours=8))


def test_every_event_arrives_in_order_once_a_failing_receiver_is_back(store, deliverer):
    receiver = Receiver()
    subscription, secret = add_webhook(store, receiver.url)
    receiver.mode = "error"
    _checkins(store, 10, "a")
    receiver.wait(lambda: receiver.count(500) >= 3)
    failing = Subscriptions(store).get(subscription.id)
    assert "HTTP 500" in failing.last_error and failing.failing_since is not None and failing.enabled

    receiver.mode = "slow"  # answers after the deliverer's timeout
    receiver.wait(lambda: receiver.count(0) >= 2)
    assert "timed out" in Subscriptions(store).get(subscription.id).last_error

    receiver.down()  # connection refused
    time.sleep(0.5)
    _checkins(store, 10, "b")
    assert "Connection refused" in Subscriptions(store).get(subscription.id).last_error
    receiver.mode = "ok"
    receiver.up()

    wanted = [e.id for e in Outbox(store).after(subscription.position, 1000)]
    assert len(wanted) == 20
    receiver.wait_for_ids(set(wanted))
    accepted = receiver.accepted()
    assert first_arrivals(accepted) == wanted  # in order, none missing
    first_arrivals(receiver.requests)  # any duplicate, answered or not, carries the same id and body
    verify_all(receiver.requests, secret)
    assert {r.event["type"] for r in accepted} == {"checkin", "checkin.updated"}
    receiver.wait(lambda: Subscriptions(store).get(subscription.id).position == wanted[-1])  # the cursor follows
    healthy = Subscriptions(store).get(subscription.id)
    assert healthy.attempts == 0 and healthy.failing_since is None and healthy.position == wanted[-1]


def test_filters_disable_after_failing_too_long_and_retry_now(store):
    Outbox(store).configure(disable_after_seconds=0.5)
    with delivering(store):
        _disable_and_retry(store)


def _disable_and_retry(store):
    Groups(store).add("staff", ["alice"])
    receiver = Receiver()
    staff, _ = add_webhook(store, receiver.url, ["checkin"], group="staff")
    receiver.mode = "error"
    _checkins(store, 4, "c")  # checkin bob, checkin alice, then updates
    subscriptions = Subscriptions(store)
    receiver.wait(lambda: not subscriptions.get(staff.id).enabled, timeout=20)
    disabled = subscriptions.get(staff.id)
    assert "HTTP 500" in disabled.last_error
    tries = len(receiver.requests)
    time.sleep(0.5)
    assert len(receiver.requests) == tries  # disabled: left alone

    receiver.mode = "ok"
    subscriptions.retry_now(staff.id)
    receiver.wait(lambda: receiver.accepted())
    time.sleep(0.3)
    events = [r.event for r in receiver.accepted()]
    assert [(e["type"], e["data"]["name"]) for e in events] == [("checkin", "alice")]  # bob is no staff
    assert subscriptions.get(staff.id).enabled


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/hook", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http:///nohost", "names no host"),
        ("http://10.1.2.3/hook", "10.1.2.3 is a private"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a private"),
        ("http://[::1]:8080/", "::1 is a private"),
        ("http://127.0.0.1:9/", "facerec webhook allow-host 127.0.0.1"),
        ("http://localhost/hook", "localhost is a private name"),
        ("https://printer/hook", "printer is a private name"),
        ("https://nas.local/hook", "nas.local is a private name"),
        ("http://a\x92b.example/hook", "cannot resolve"),  # no IDNA form: a 500 before
    ],
)
def test_bad_subscription_urls_are_refused_with_a_clear_error(url, message):
    with pytest.raises(BadUrlError, match=message.replace("[", r"\[").replace("?", r"\?")):
        check_webhook_url(url)


def test_a_private_host_is_accepted_only_once_allowed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(BadUrlError, match="allow-host 127.0.0.1"):
        add_webhook(store, "http://127.0.0.1:8080/hook")
    assert Subscriptions(store).list() == []
    assert allow_host(store, "127.0.0.1") == ["127.0.0.1"]
    assert add_webhook(store, "http://127.0.0.1:8080/hook")[0].url == "http://127.0.0.1:8080/hook"
    assert check_webhook_url("http://nas.lan/x", ["nas.lan"]) == "http://nas.lan/x"


def test_signatures_match_the_reference_and_the_documented_receiver():
    from standardwebhooks import Webhook

    spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks specification's example key
    body = b'{"id":1,"type":"checkin"}'
    headers = signing.headers(secret, "evt_1", body)
    assert Webhook(secret).verify(body, headers) == {"id": 1, "type": "checkin"}
    assert example.verify(secret, headers, body)["id"] == 1
    signing.verify(secret, headers, body)
    # The specification's own test vector.
    assert (
        signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    for tampered in (body + b" ", body.replace(b"1", b"2")):
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, headers, tampered)
        with pytest.raises(ValueError):
            example.verify(secret, headers, tampered)
    stale = signing.headers(secret, "evt_1", body, timestamp=int(time.time()) - 3600)
    with pytest.raises(signing.SignatureError, match="timestamp"):
        signing.verify(secret, stale, body)


def test_the_deliverer_purges_delivered_events_past_their_retention(store):
    receiver = Receiver()
    subscription, _secret = add_webhook(store, receiver.url)
    _checkins(store, 4, "r")
    outbox = Outbox(store)
    wanted = {e.id for e in outbox.after(subscription.position)}
    deliverer = Deliverer(store)
    deliverer.step()  # delivers; the retention (7 days) keeps everything
    receiver.wait_for_ids(wanted)
    assert {e.id for e in outbox.after(0)} >= wanted
    outbox.configure(retention_days=1e-6)  # a tenth of a second
    time.sleep(0.2)
    away = Receiver()
    away.down()  # a second subscription whose receiver refuses connections
    add_webhook(store, away.url)
    _checkins(store, 1, "late")  # delivered to the first, not to the second: kept
    late = outbox.last_id()
    time.sleep(0.2)
    Deliverer(store).step()  # a fresh deliverer does its housekeeping at once
    assert [e.id for e in outbox.after(0)] == [late]
