"""The deliverer: takes subscriptions that have events after their cursor, one lease at a time,
and sends their events in id order, moving the cursor after each one the receiver took.

It runs as a thread in ``facerec serve`` (each worker) and ``facerec attend``, or alone as
``facerec deliver``; any number of them may share a store (facerec.store.subscriptions: leases).
On a failure the subscription backs off (doubling from retry_base to retry_max seconds, times a
random 0.5-1 so many subscriptions do not retry in step) and a webhook failing for longer than
disable_after is disabled, with its last error kept for the desk; ``retry now`` starts it again.
Subscriptions are served one after another by one thread: a receiver that times out holds the
others up for at most its timeout each time it is tried.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import secrets
import socket
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import facerec
from facerec.errors import FacerecError
from facerec.events import webhooks
from facerec.events.webhooks import DeliveryError
from facerec.store.outbox import Outbox
from facerec.store.repository import Store
from facerec.store.subscriptions import Subscription, Subscriptions, shown_url

if TYPE_CHECKING:
    from facerec.events.mqtt import MqttSink

log = logging.getLogger(__name__)
BATCH = 200  # events read per subscription per step
POLL_SECONDS = 0.1  # how often the outbox is looked at: the floor of delivery latency
ADVANCE_EVERY = 50  # events sent between two writes of the cursor
SETTINGS_SECONDS = 5.0  # the events setting is read again this often
HOUSEKEEPING_SECONDS = 10.0  # closing clients of removed subscriptions, retention
PURGE_SECONDS = 3600.0
ERROR_WAIT_SECONDS = 2.0  # between tries while the store cannot be reached
MQTT_RETRY_MAX_SECONDS = 30.0  # a broker's outage is waited out, never given up on


def backoff(attempts: int, base: float, most: float) -> timedelta:
    """The wait before attempt ``attempts + 1``: doubling, capped, with jitter."""
    return timedelta(seconds=min(most, base * 2 ** min(attempts, 30)) * random.uniform(0.5, 1.0))


class Deliverer:
    def __init__(self, store: Store, owner: str | None = None) -> None:
        self.subscriptions = Subscriptions(store)
        self.outbox = Outbox(store)
        self.token = secrets.token_hex(3)
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{self.token}"
        self.sinks: dict[int, MqttSink] = {}  # MQTT clients by subscription id
        self._housekept = 0.0
        self._purged = 0.0
        self._leases: dict[int, float] = {}  # subscription id: monotonic time our lease runs out
        self._settings: tuple[float, dict] = (0.0, {})

    def step(self) -> int:
        """One round over the due subscriptions. Returns how many events were sent."""
        sent = 0
        due: list[Subscription] = self.subscriptions.due()
        settings = self.settings() if due or self.sinks else {}
        for subscription in due:
            sent += self._serve(subscription, settings)
        for sink in list(self.sinks.values()):
            try:
                sink.mark_away(settings["timeout_seconds"])
            except DeliveryError as exc:
                log.info("MQTT away state not published yet: %s", exc)
        now = time.monotonic()
        if now - self._housekept >= HOUSEKEEPING_SECONDS:
            self._housekept = now
            self._housekeeping(now)
        return sent

    def settings(self) -> dict:
        read, settings = self._settings
        if time.monotonic() - read > SETTINGS_SECONDS:
            self._settings = (time.monotonic(), settings := self.outbox.settings())
        return settings

    def _housekeeping(self, now: float) -> None:
        live = {s.id for s in self.subscriptions.list("mqtt") if s.enabled}
        for gone in set(self.sinks) - live:
            self.sinks.pop(gone).close()
        if now - self._purged >= PURGE_SECONDS or not self._purged:
            self._purged = now
            purged = self.outbox.apply_retention()
            if purged:
                log.info("purged %d delivered events past their retention", purged)

    def _sender(self, subscription: Subscription):
        if subscription.kind == "webhook":
            return lambda event, timeout: webhooks.send(subscription, event, timeout)
        sink = self.sinks.get(subscription.id)
        if sink is None:
            from facerec.events.mqtt import MqttSink

            sink = self.sinks[subscription.id] = MqttSink(subscription, facerec.__version__, self.token)
        return sink.send

    def _hold(self, subscription: Subscription, lease: timedelta) -> Subscription | None:
        """The subscription if this process holds its lease (taken or renewed here when less
        than half of it is left), else None."""
        expiry = self._leases.get(subscription.id, 0.0)
        if expiry - time.monotonic() > lease.total_seconds() / 2:
            return subscription
        held = self.subscriptions.claim(subscription.id, self.owner, lease)
        if held is None:
            self._leases.pop(subscription.id, None)
        else:
            self._leases[subscription.id] = time.monotonic() + lease.total_seconds()
        return held

    def _advance(self, held: Subscription, position: int, lease: timedelta, sent: bool) -> bool:
        if self.subscriptions.advance(held.id, self.owner, position, lease, sent):
            self._leases[held.id] = time.monotonic() + lease.total_seconds()
            return True
        self._leases.pop(held.id, None)  # lost: the new holder goes on from the cursor it finds
        return False

    def _serve(self, subscription: Subscription, settings: dict) -> int:
        """Send the subscription's next events. The cursor moves every ADVANCE_EVERY events and
        at the end (one write per batch, not per event): a crash sends at most that many again."""
        lease = timedelta(seconds=float(settings["lease_seconds"]))
        held = self._hold(subscription, lease)
        if held is None:
            return 0  # another process delivers it
        send = self._sender(held)
        position, sent, moved = held.position, 0, False
        try:
            for event in self.outbox.after(held.position, BATCH):
                if held.wants(event.type, event.groups):
                    send(event, float(settings["timeout_seconds"]))
                    sent, moved = sent + 1, True
                position = event.id
                if moved and sent % ADVANCE_EVERY == 0:
                    if not self._advance(held, position, lease, sent=True):
                        return sent
                    moved = False
            if position > held.position:
                self._advance(held, position, lease, sent=sent > 0)
        except DeliveryError as exc:
            if position > held.position:  # what went before the failure
                self._advance(held, position, lease, sent=sent > 0)
            mqtt = held.kind == "mqtt"
            most = float(settings["retry_max_seconds"])
            most = min(most, MQTT_RETRY_MAX_SECONDS) if mqtt else most
            delay = backoff(held.attempts, float(settings["retry_base_seconds"]), most)
            give_up = timedelta.max if mqtt else timedelta(seconds=float(settings["disable_after_seconds"]))
            wait = delay.total_seconds()
            log.warning("delivery to %s failed (%s); retrying in %.1f s", shown_url(held.url), exc, wait)
            self.subscriptions.failed(held.id, self.owner, str(exc), delay, give_up)
            self._leases.pop(held.id, None)
        return sent

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
        self.sinks.clear()
        for subscription in self.subscriptions.list():
            self.subscriptions.release(subscription.id, self.owner)

    def run(self, stop: threading.Event, poll: float = POLL_SECONDS, flush: bool = False) -> None:
        """Deliver until ``stop`` is set (``flush``: then one last round, for what came just
        before). A store that cannot be reached is waited for (one warning per outage); no
        error ends the thread, which the process relies on."""
        trouble = None
        try:
            while not stop.is_set():
                try:
                    busy = self.step()
                    if trouble is not None:
                        log.warning("event delivery resumed")
                    trouble = None
                except Exception as exc:  # noqa: BLE001 - logged; delivery must outlive any one failure
                    if trouble is None:
                        log.warning("event delivery paused: %s", exc, exc_info=not isinstance(exc, FacerecError))
                    trouble, busy = exc, 0
                if not busy:
                    stop.wait(poll if trouble is None else ERROR_WAIT_SECONDS)
            if flush and trouble is None:
                self.step()
        finally:
            try:
                self.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("could not hand the subscriptions back: %s", exc)


def start(store: Store, flush: bool = False) -> tuple[threading.Thread, threading.Event]:
    """A deliverer on a daemon thread; set the event to stop it (it then gives its leases back)."""
    stop = threading.Event()
    work = functools.partial(Deliverer(store).run, stop, flush=flush)
    thread = threading.Thread(target=work, name="facerec-deliverer", daemon=True)
    thread.start()
    return thread, stop
