"""Figures for event delivery: commit-to-arrival latency of webhooks, and catch-up after an outage.

    python benchmarks/events_latency.py [--rate 50] [--seconds 20] [--queued 1000] [--db URL]

On a real `facerec deliver` process and a webhook receiver on 127.0.0.1 (a fresh SQLite store in a
temporary folder unless --db names an empty one, e.g. PostgreSQL):

1. Check-ins committed at ``--rate`` per second for ``--seconds``, each a new attendance event:
   for each, the time from its commit (record() returned) to its arrival at the receiver; p50,
   p99 and max. Target: p99 under 1 s at 50 check-ins/s.
2. The receiver down (connections refused) while ``--queued`` check-ins are committed, then back:
   the time from its return until the last of them arrived, and the rate. Target: 1,000 events
   within a minute. The deliverer only notices the return at its next retry, so this includes
   the back-off in progress (at most retry_max_seconds, 60 by default).

Correctness (every event, in order, signed) is held by tests/events/; this prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from samples import sample  # noqa: E402

from facerec.events.manage import add_webhook, allow_host  # noqa: E402
from facerec.store import Store  # noqa: E402
from facerec.store.attendance_log import AttendanceLog  # noqa: E402
from facerec.store.samples import Samples  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrivals.setdefault(json.loads(body)["data"]["event_id"], time.time())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(done, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="facerec-events-bench-")
    url = args.db or f"sqlite:///{folder}/store.db"
    store = Store(url)
    Samples(store).add("alice", [sample(1)])
    allow_host(store, "127.0.0.1")
    receiver = Receiver()
    add_webhook(store, f"http://127.0.0.1:{receiver.port}/hook", ["checkin"])
    log = AttendanceLog(store)
    deliverer = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "--db", url, "deliver"], stderr=subprocess.DEVNULL
    )
    committed: dict[int, float] = {}
    counter = 0

    def checkin() -> None:
        nonlocal counter
        counter += 1
        moment = datetime.now(UTC)
        event, _new = log.record("alice", f"gate-{counter}", moment, moment, 0.8, b"png", 1, timedelta(hours=8))
        committed[event.id] = time.time()

    try:
        checkin()  # the deliverer is up once this one arrives
        if not wait_for(lambda: receiver.arrivals, 60):
            raise SystemExit("the deliverer did not deliver within 60 s")
        committed.clear()
        receiver.arrivals.clear()

        total = int(args.rate * args.seconds)
        start = time.monotonic()
        for i in range(total):
            time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
            checkin()
        achieved = total / (time.monotonic() - start)
        wait_for(lambda: set(committed) <= set(receiver.arrivals), 30)
        latencies = sorted(receiver.arrivals[i] - committed[i] for i in committed if i in receiver.arrivals)
        missing = len(committed) - len(latencies)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        print(f"store: {store.engine.url.get_backend_name()}; one `facerec deliver` process; receiver on 127.0.0.1")
        p50 = statistics.median(latencies)
        print(
            f"1. {total} check-ins at {achieved:.1f}/s: commit -> arrival p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; {missing} not arrived"
        )

        committed.clear()
        receiver.arrivals.clear()
        receiver.down()
        for _ in range(args.queued):
            checkin()
        time.sleep(2.0)  # the deliverer finds the receiver gone and backs off
        back = time.time()
        receiver.up()
        done = wait_for(lambda: set(committed) <= set(receiver.arrivals), 300)
        last = max(receiver.arrivals.values()) - back if receiver.arrivals else float("nan")
        first = min(receiver.arrivals.values()) - back if receiver.arrivals else float("nan")
        print(
            f"2. {args.queued} check-ins queued while the receiver was down: the first arrived {first:.2f} s after "
            f"its return, the last {last:.2f} s after ({args.queued / max(last - first, 1e-9):.0f} events/s)"
            + ("" if done else "; NOT all arrived within 300 s")
        )
    finally:
        deliverer.terminate()
        deliverer.wait(timeout=30)
        receiver.down()


if __name__ == "__main__":
    main()
