"""`facerec deliver` killed (SIGKILL) in the middle of a burst of check-ins: after a restart every
event arrives, in order; only the one in flight may come twice, with the same id."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from receiver import Receiver, first_arrivals, verify_all
from samples import sample

from facerec.events.manage import add_webhook, allow_host
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.outbox import Outbox
from facerec.store.samples import Samples

CLI = Path(__file__).resolve().parents[2] / "cli.py"


def _deliverer(url: str, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, str(CLI), "--db", url, "deliver"], stdout=out, stderr=out)


def test_nothing_is_lost_when_the_deliverer_is_killed_mid_burst(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    Samples(store).add("alice", [sample(1)])
    Outbox(store).configure(lease_seconds=1, retry_base_seconds=0.1, retry_max_seconds=0.5)
    allow_host(store, "127.0.0.1")
    receiver = Receiver()
    subscription, secret = add_webhook(store, receiver.url)
    log = AttendanceLog(store)

    def checkin(i: int) -> None:
        moment = datetime.now(UTC)
        log.record("alice", f"gate-{i}", moment, moment, 0.8, b"png", 1, timedelta(hours=8))

    process = _deliverer(url, tmp_path / "deliver.log")
    try:
        checkin(0)
        receiver.wait(lambda: receiver.accepted(), timeout=60)  # the deliverer is up

        def burst() -> None:
            for i in range(1, 200):
                checkin(i)
                time.sleep(0.01)

        writer = threading.Thread(target=burst)
        writer.start()
        receiver.wait(lambda: len(receiver.accepted()) >= 50)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        killed_during_burst = writer.is_alive()
        writer.join()
        got_before = len(receiver.accepted())
        process = _deliverer(url, tmp_path / "deliver.log")
        wanted = [e.id for e in Outbox(store).after(subscription.position, 1000)]
        assert len(wanted) == 200
        receiver.wait_for_ids(set(wanted), timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert killed_during_burst and got_before < 200
    assert first_arrivals(receiver.accepted()) == wanted
    verify_all(receiver.requests, secret)
