"""A real webhook receiver on 127.0.0.1 for the events tests: it answers as told (200, 500, too
late) or is down (its port refuses connections), and keeps every request it got."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered (0: it answered too late to count)
    at: float  # time.time() of arrival

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.mode = "ok"  # ok | error | slow
        self.slow_seconds = 2.0
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port or 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode, arrived = receiver.mode, time.time()
                status = {"ok": 200, "error": 500, "slow": 0}[mode]
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.requests.append(Request(headers, body, status, arrived))
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Close the listening socket: connections are refused until up()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def count(self, status: int) -> int:
        with self.lock:
            return sum(r.status == status for r in self.requests)

    def wait(self, done, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the receiver got {len(self.requests)} requests")
            time.sleep(0.02)

    def wait_for_ids(self, ids: set[int], timeout: float = 30.0) -> None:
        self.wait(lambda: ids <= {r.event["id"] for r in self.accepted()}, timeout)


def verify_all(requests: list[Request], secret: str) -> None:
    """Every request signed with ``secret`` (checked by the Standard Webhooks reference package)."""
    hook = Webhook(secret)
    for request in requests:
        hook.verify(request.body, request.headers)


def first_arrivals(requests: list[Request]) -> list[int]:
    """Event ids in order of first arrival; duplicates (a retry after a lost answer) must carry the
    same webhook-id and body as the first."""
    seen: dict[int, Request] = {}
    order = []
    for request in requests:
        event_id = request.event["id"]
        if event_id in seen:
            assert request.headers["webhook-id"] == seen[event_id].headers["webhook-id"]
            assert request.body == seen[event_id].body
        else:
            seen[event_id] = request
            order.append(event_id)
    return order
