"""A webhook receiver for facerec's events: checks each request's Standard Webhooks signature
with nothing but the standard library, drops duplicates by webhook-id, and prints the event.

    FACEREC_WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8080

then, where facerec runs: facerec webhook add https://this-host:8080/facerec (the secret is what
that command printed). Answer 2xx only once the event is safely handled: anything else, or no
answer within the timeout, and facerec sends it again later (same webhook-id)."""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE = 5 * 60  # seconds: older (or future) timestamps are refused, so a captured request cannot be replayed


def verify(secret: str, headers, body: bytes) -> dict:
    """The event, if the headers sign the body with the secret; ValueError otherwise."""
    message_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        raise ValueError("timestamp too old or too new")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split()):
        raise ValueError("bad signature")
    return json.loads(body)


class Handler(BaseHTTPRequestHandler):
    seen: set[str] = set()  # a real receiver keeps these (or the last event id) in its database

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = verify(os.environ["FACEREC_WEBHOOK_SECRET"], self.headers, body)
        except (KeyError, ValueError) as exc:
            self.send_error(401, str(exc))
            return
        if self.headers["webhook-id"] not in self.seen:
            self.seen.add(self.headers["webhook-id"])
            print(event["id"], event["type"], event["data"].get("name"), flush=True)
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 8080), Handler).serve_forever()
