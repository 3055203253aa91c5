"""Two real `facerec serve` processes on one PostgreSQL store deliver webhooks; the HTTP API
manages subscriptions (admin keys, audited, secrets shown once) and replays events by cursor."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from cli_run import new_key
from receiver import Receiver, verify_all
from samples import sample
from server_process import ServerProcess

from facerec.events.manage import allow_host
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.outbox import Outbox
from facerec.store.samples import Samples
from facerec.store.spoofs import SpoofEvents


def test_two_servers_deliver_each_event_once_per_subscription(postgres, tmp_path):
    url = postgres.new_database()
    store = Store(url)
    for seed, name in enumerate(("alice", "bob", "carol"), 1):
        Samples(store).add(name, [sample(seed)])
    Outbox(store).configure(lease_seconds=5, retry_base_seconds=0.1, retry_max_seconds=0.5)
    admin, reader = new_key(url, "admin"), new_key(url, "reader", "read")
    servers = [ServerProcess(url, log=tmp_path / f"server{i}.log") for i in range(2)]
    receivers = [Receiver(), Receiver()]
    try:
        first, second = (s.url for s in servers)
        hook = {"url": receivers[0].url, "events": ["checkin", "checkin.updated"]}
        refused = httpx.post(f"{first}/v1/webhooks", json=hook, headers={"X-API-Key": admin})
        assert refused.status_code == 422 and "allow-host 127.0.0.1" in refused.json()["detail"]
        scheme = httpx.post(f"{first}/v1/webhooks", json=hook | {"url": "ftp://x/"}, headers={"X-API-Key": admin})
        assert scheme.status_code == 422 and "http:// or https://" in scheme.json()["detail"]
        assert httpx.post(f"{first}/v1/webhooks", json=hook, headers={"X-API-Key": reader}).status_code == 403
        allow_host(store, "127.0.0.1")
        made = [
            httpx.post(f"{server}/v1/webhooks", json=hook | {"url": r.url}, headers={"X-API-Key": admin})
            for server, r in zip((first, second), receivers, strict=True)
        ]
        assert [m.status_code for m in made] == [201, 201]
        secrets = [m.json()["secret"] for m in made]
        listed = httpx.get(f"{second}/v1/webhooks", headers={"X-API-Key": admin}).json()
        assert [w["url"] for w in listed] == [r.url for r in receivers]
        assert all("secret" not in w for w in listed)  # never shown again
        audit = httpx.get(f"{first}/v1/audit", headers={"X-API-Key": admin}).json()
        assert [a["action"] for a in audit[:2]] == ["webhook_add", "webhook_add"] and audit[0]["key"] == "admin"

        start = Outbox(store).last_id()
        log = AttendanceLog(store)
        for i in range(60):
            moment = datetime.now(UTC)
            log.record(
                ("alice", "bob", "carol")[i % 3], f"door-{i // 6}", moment, moment, 0.8, b"png", 1, timedelta(hours=8)
            )
        SpoofEvents(log.store).add("door", moment, moment, None, 0.1, 0.9, b"png", 2)  # not a type they asked for
        events = Outbox(store).after(start, 1000)
        wanted = [e.id for e in events if e.type.startswith("checkin")]
        for receiver, secret in zip(receivers, secrets, strict=True):
            receiver.wait_for_ids(set(wanted), timeout=60)
            time.sleep(0.5)  # a second delivery, if there were one, would have come by now
            ids = [r.event["id"] for r in receiver.requests]
            assert ids == wanted  # each once, in order, by whichever server held the lease
            verify_all(receiver.requests, secret)

        # Catch-up by cursor, in pages.
        page = httpx.get(f"{second}/v1/events", params={"after": start, "limit": 50}, headers={"X-API-Key": reader})
        assert page.status_code == 200
        body = page.json()
        assert [e["id"] for e in body["events"]] == [e.id for e in events][:50] and body["last"] == events[49].id
        rest = httpx.get(f"{second}/v1/events", params={"after": body["last"]}, headers={"X-API-Key": reader}).json()
        assert [e["id"] for e in rest["events"]] == [e.id for e in events][50:]
        assert rest["events"][-1]["type"] == "spoof" and rest["events"][-1]["data"]["liveness_score"] == 0.9
        spoofs = httpx.get(
            f"{second}/v1/events", params={"after": start, "type": "spoof"}, headers={"X-API-Key": reader}
        ).json()
        assert [e["type"] for e in spoofs["events"]] == ["spoof"]

        # The check-in stream resumes after Last-Event-ID.
        checkins = log.events()
        with httpx.stream(
            "GET",
            f"{first}/v1/events/stream",
            headers={"X-API-Key": reader, "Last-Event-ID": str(checkins[-3].id)},
            timeout=10,
        ) as stream:
            ids = []
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                if len(ids) == 2:
                    break
        assert ids == [checkins[-2].id, checkins[-1].id]

        # Retry now and remove, over HTTP.
        webhook = listed[0]["id"]
        again = httpx.post(f"{first}/v1/webhooks/{webhook}/retry", headers={"X-API-Key": admin})
        assert again.status_code == 200 and again.json()["enabled"]
        assert httpx.delete(f"{first}/v1/webhooks/{webhook}", headers={"X-API-Key": admin}).status_code == 200
        assert httpx.delete(f"{first}/v1/webhooks/{webhook}", headers={"X-API-Key": admin}).status_code == 404
        schema = httpx.get(f"{first}/openapi.json").json()
        assert set(schema["webhooks"]) >= {"checkin", "person.enrolled", "spoof", "unknown"}
    finally:
        for server in servers:
            server.stop()
