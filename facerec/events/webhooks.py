"""Sending one event to a webhook: a signed JSON POST, never following redirects (a redirect
could point anywhere; the URL was checked, its answer's Location was not)."""

from __future__ import annotations

import http.client
import json

from facerec.events import signing
from facerec.events.urls import parse
from facerec.store.outbox import OutboxEvent
from facerec.store.subscriptions import Subscription

USER_AGENT = "facerec-webhooks"


class DeliveryError(Exception):
    """The receiver did not take the event (a status other than 2xx, a timeout, no connection)."""


def message_id(event: OutboxEvent) -> str:
    """``webhook-id``: the same for every attempt of one event, so receivers can drop duplicates."""
    return f"evt_{event.id}"


def body(event: OutboxEvent) -> bytes:
    return json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()


def send(subscription: Subscription, event: OutboxEvent, timeout: float) -> None:
    endpoint = parse(subscription.url)
    payload = body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.headers(subscription.secret or "", message_id(event), payload),
    }
    kind = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
    connection = kind(endpoint.host, endpoint.port, timeout=timeout)
    try:
        connection.request("POST", endpoint.path, payload, headers)
        answer = connection.getresponse()
        answer.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise DeliveryError(f"HTTP {answer.status} {answer.reason}")
