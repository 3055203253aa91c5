"""Events published to a real Mosquitto on 127.0.0.1: a QoS 1 subscriber gets every check-in
across a broker restart (the outbox holds them meanwhile), and Home Assistant discovery
documents and presence states are what Home Assistant reads."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from broker import Mosquitto
from samples import sample

from facerec.events.deliverer import Deliverer
from facerec.events.manage import set_mqtt
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.outbox import Outbox
from facerec.store.samples import Samples

# Home Assistant's MQTT discovery: <prefix>/<component>/[<node_id>/]<object_id>/config, ids of [a-zA-Z0-9_-].
DISCOVERY_TOPIC = re.compile(r"^homeassistant/binary_sensor/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")

pytestmark = pytest.mark.mqtt


class Subscriber:
    """A persistent-session QoS 1 subscriber: the broker keeps its messages while it is away."""

    def __init__(self, port: int, client_id: str, clean: bool = False) -> None:
        self.messages: list[tuple[str, bytes, bool, int]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.client.on_connect = lambda c, *_: c.subscribe([("facerec/#", 1), ("homeassistant/#", 1)])
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload, m.retain, m.qos))
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _retain, _qos in list(self.messages) if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(done, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def broker():
    server = Mosquitto()
    yield server
    server.stop()


def test_checkins_reach_a_qos1_subscriber_across_a_broker_restart(broker, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    people = {name: Samples(store).add(name, [sample(seed)])[0] for seed, name in enumerate(("alice", "bob"), 1)}
    Outbox(store).configure(retry_base_seconds=0.1, retry_max_seconds=0.5, timeout_seconds=1)
    set_mqtt(store, broker.url, site="office", away_seconds=2)
    subscriber = Subscriber(broker.port, "facerec-test-subscriber")
    stop = threading.Event()
    thread = threading.Thread(target=Deliverer(store).run, args=(stop, 0.02))
    thread.start()
    log = AttendanceLog(store)

    def checkin(name: str, i: int) -> None:
        moment = datetime.now(UTC)
        log.record(name, f"door-{i}", moment, moment, 0.8, b"png", 1, timedelta(hours=8))

    try:
        for i in range(5):
            checkin(("alice", "bob")[i % 2], i)
        _wait(lambda: len(subscriber.on("facerec/office/checkin")) >= 5)
        broker.halt()
        for i in range(5, 10):
            checkin(("alice", "bob")[i % 2], i)
        time.sleep(1.0)  # the deliverer tries, fails, backs off; the outbox holds the events
        broker.start()
        wanted = [e.id for e in Outbox(store).after(0, 100, ["checkin"])]
        assert len(wanted) == 10

        def received() -> list[int]:
            return [json.loads(p)["id"] for p in subscriber.on("facerec/office/checkin")]

        _wait(lambda: set(wanted) <= set(received()))
        assert sorted(set(received())) == wanted
        assert {qos for t, _p, _r, qos in subscriber.messages if t == "facerec/office/checkin"} == {1}
        first = {}
        for payload in subscriber.on("facerec/office/checkin"):  # a duplicate is the same message
            event = json.loads(payload)
            assert first.setdefault(event["id"], event) == event
        assert first[wanted[0]]["data"]["name"] == "alice" and first[wanted[0]]["type"] == "checkin"

        # Presence: present at a check-in, away once not seen for away_seconds.
        alice_state = "facerec/office/person/alice/state"
        _wait(lambda: subscriber.on(alice_state)[-1:] == [b"away"], timeout=15)
        assert b"present" in subscriber.on(alice_state)
    finally:
        stop.set()
        thread.join(timeout=15)
        subscriber.close()

    # A newcomer (Home Assistant starting up) finds the retained discovery documents and states.
    newcomer = Subscriber(broker.port, "home-assistant", clean=True)
    _wait(lambda: len([t for t, *_ in newcomer.messages if t.startswith("homeassistant/")]) >= 2)
    configs = {t: json.loads(p) for t, p, retain, _q in newcomer.messages if t.startswith("homeassistant/") and retain}
    newcomer.close()
    assert len(configs) == 2
    by_name = {c["name"]: (topic, c) for topic, c in configs.items()}
    for name, person in people.items():
        topic, config = by_name[name]
        assert DISCOVERY_TOPIC.match(topic)
        assert config["device_class"] == "presence"
        assert (config["payload_on"], config["payload_off"]) == ("present", "away")
        assert config["state_topic"] == f"facerec/office/person/{name}/state"
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", config["unique_id"]) and str(person.id) in config["unique_id"]
        assert config["availability_topic"] == "facerec/office/status"
        assert config["device"]["identifiers"] == ["facerec_office"] and config["device"]["name"]
        assert config["origin"]["name"] == "facerec"
    assert all(set(c) <= HA_BINARY_SENSOR_KEYS for c in configs.values())


# The keys Home Assistant's MQTT binary_sensor takes (https://www.home-assistant.io/integrations/binary_sensor.mqtt/):
# a document with any other key is refused by Home Assistant.
HA_BINARY_SENSOR_KEYS = {
    "name",
    "unique_id",
    "object_id",
    "state_topic",
    "payload_on",
    "payload_off",
    "device_class",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "device",
    "origin",
    "json_attributes_topic",
    "value_template",
    "expire_after",
    "off_delay",
    "qos",
    "icon",
    "enabled_by_default",
    "entity_category",
    "force_update",
}
