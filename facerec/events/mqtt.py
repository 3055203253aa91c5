"""Publishing events to an MQTT broker (paho-mqtt), with Home Assistant discovery.

Topics, under ``facerec/<site>/`` (site: the subscription's ``site`` option, "default" if none):

- ``<type>`` with dots as slashes (``checkin``, ``checkin/updated``, ``unknown``, ``spoof``,
  ``person/enrolled``, ``person/renamed``, ``person/removed``): the event as JSON, QoS 1;
- ``person/<slug>/state``: retained ``present`` at a check-in, ``away`` once the person has not
  been seen for the ``away_seconds`` option (900), or enrolled and not seen yet;
- ``status``: retained ``online``, ``offline`` (the client's will) when facerec is gone;
- ``homeassistant/binary_sensor/facerec_<site>/person_<id>/config``: retained discovery
  documents, so each person appears in Home Assistant as a presence sensor with no set-up.

An event counts as sent once the broker has acknowledged every message of it (PUBACK); until
then the cursor stays and the event goes again: at least once. paho reconnects by itself with
back-off; while the broker is down the outbox holds the events.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse

from facerec.events.urls import parse
from facerec.events.webhooks import DeliveryError
from facerec.store.outbox import OutboxEvent
from facerec.store.subscriptions import Subscription, shown_url

DISCOVERY_PREFIX = "homeassistant"
DEFAULT_AWAY_SECONDS = 900.0
CONNECT_WAIT_SECONDS = 2.0


def slug(text: str) -> str:
    """A topic level / Home Assistant id from a name: [a-z0-9_-] only (no MQTT wildcards)."""
    return re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_") or "_"


class MqttSink:
    """One broker subscription's client: connected in the background, publishing on demand."""

    def __init__(self, subscription: Subscription, version: str, tag: str) -> None:
        """``tag``: this process's part of the MQTT client id; two clients with one id would
        throw each other off the broker, and a lease may pass from one process to another."""
        import paho.mqtt.client as mqtt

        endpoint = parse(subscription.url, ("mqtt", "mqtts"))
        self.site = slug(str(subscription.options.get("site") or "default"))
        self.prefix = f"facerec/{self.site}"
        self.away_seconds = float(subscription.options.get("away_seconds") or DEFAULT_AWAY_SECONDS)
        self.version = version
        self.url = shown_url(subscription.url)  # for messages: never the password
        self.present: dict[tuple[int, str], float] = {}  # (person id, name): monotonic time last seen
        self._connected = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"facerec-{self.site}-{tag}")
        parts = urllib.parse.urlsplit(subscription.url)
        if parts.username:
            client.username_pw_set(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
        if endpoint.scheme == "mqtts":
            client.tls_set()
        client.will_set(f"{self.prefix}/status", "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_args: self._connected.clear()
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        self.client = client

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if not reason.is_failure:
            client.publish(f"{self.prefix}/status", "online", qos=1, retain=True)
            self._connected.set()

    def close(self) -> None:
        self.client.publish(f"{self.prefix}/status", "offline", qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()

    # --- messages ---------------------------------------------------------------------------------

    def state_topic(self, name: str) -> str:
        return f"{self.prefix}/person/{slug(name)}/state"

    def discovery_topic(self, person_id: int) -> str:
        return f"{DISCOVERY_PREFIX}/binary_sensor/facerec_{self.site}/person_{person_id}/config"

    def discovery(self, person_id: int, name: str) -> dict:
        """Home Assistant's MQTT discovery document of a person's presence sensor."""
        return {
            "name": name,
            "unique_id": f"facerec_{self.site}_person_{person_id}",
            "object_id": f"facerec_{self.site}_{slug(name)}",
            "state_topic": self.state_topic(name),
            "payload_on": "present",
            "payload_off": "away",
            "device_class": "presence",
            "availability_topic": f"{self.prefix}/status",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": {
                "identifiers": [f"facerec_{self.site}"],
                "name": f"facerec {self.site}",
                "manufacturer": "facerec",
                "model": "face recognition attendance",
                "sw_version": self.version,
            },
            "origin": {"name": "facerec", "sw_version": self.version},
        }

    def messages(self, event: OutboxEvent) -> list[tuple[str, str, bool]]:
        """(topic, payload, retained) to publish for ``event``, the event itself first."""
        data = event.data
        sensor: list[tuple[str, str, bool]] = []  # the person's discovery document, if it names one
        if "person_id" in data and data.get("name"):
            document = json.dumps(self.discovery(data["person_id"], data["name"]))
            sensor.append((self.discovery_topic(data["person_id"]), document, True))
        out = [(f"{self.prefix}/{event.type.replace('.', '/')}", json.dumps(event.to_dict()), False)]
        if event.type in ("checkin", "checkin.updated"):
            out += [
                *sensor,
                (self.state_topic(data["name"]), "present", True),
            ]
        elif event.type == "person.enrolled":
            out += [
                *sensor,
                (self.state_topic(data["name"]), "away", True),
            ]
        elif event.type == "person.renamed":
            out += [
                (self.state_topic(data["old_name"]), "", True),  # an empty retained message clears it
                *sensor,
                (self.state_topic(data["name"]), "away", True),
            ]
        elif event.type == "person.removed":
            out += [(self.discovery_topic(data["person_id"]), "", True), (self.state_topic(data["name"]), "", True)]
        return out

    # --- publishing -------------------------------------------------------------------------------

    def _publish(self, topic: str, payload: str, retain: bool, timeout: float) -> None:
        if not self._connected.wait(CONNECT_WAIT_SECONDS):
            raise DeliveryError(f"not connected to the MQTT broker at {self.url}")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryError(f"MQTT publish to {topic} failed: {exc}") from None
        if not info.is_published():
            raise DeliveryError(f"the MQTT broker at {self.url} did not acknowledge within {timeout:g} s")

    def send(self, event: OutboxEvent, timeout: float) -> None:
        for topic, payload, retain in self.messages(event):
            self._publish(topic, payload, retain, timeout)
        data = event.data
        if event.type in ("checkin", "checkin.updated"):
            self.present[(data["person_id"], data["name"])] = time.monotonic()
        elif event.type in ("person.renamed", "person.removed"):
            self.present = {k: v for k, v in self.present.items() if k[0] != data["person_id"]}

    def mark_away(self, timeout: float) -> None:
        """``away`` for everyone present but not seen for ``away_seconds`` (retried next time if
        the broker cannot take it now)."""
        now = time.monotonic()
        for key, seen in list(self.present.items()):
            if now - seen >= self.away_seconds:
                self._publish(self.state_topic(key[1]), "away", True, timeout)
                del self.present[key]
