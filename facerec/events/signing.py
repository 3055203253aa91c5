"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's key, sent as ``v1,<base64>``.
Our own few lines rather than a dependency; the tests check them against the reference package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60  # receivers refuse messages older (or newer) than this: replays


class SignatureError(ValueError):
    pass


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{int(timestamp)}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three headers of a signed message, stamped now (each attempt anew)."""
    moment = int(time.time() if timestamp is None else timestamp)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(moment),
        "webhook-signature": signature(secret, message_id, moment, body),
    }


def verify(secret: str, received: dict[str, str], body: bytes, now: float | None = None) -> None:
    """Raise SignatureError unless ``received`` (headers, lower-case names) sign ``body`` with
    ``secret`` within the tolerance. Several space-separated signatures: any one may match."""
    try:
        message_id, stamp = received["webhook-id"], int(received["webhook-timestamp"])
        offered = received["webhook-signature"].split()
    except (KeyError, ValueError):
        raise SignatureError("missing or malformed webhook-* headers") from None
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE_SECONDS:
        raise SignatureError("the message's timestamp is too far from now")
    expected = signature(secret, message_id, stamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureError("no signature matches")
