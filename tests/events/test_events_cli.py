"""The command line's side of events: webhooks (bad URLs refused with exit 1), MQTT, the outbox
by cursor, the settings."""

from __future__ import annotations

import json

from cli_run import run
from samples import sample

from facerec.store import Store
from facerec.store.people import People
from facerec.store.samples import Samples


def test_webhook_commands_and_events_by_cursor(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    Samples(store).add("alice", [sample(1)])
    Samples(store).add("bob", [sample(2)])

    refused = run("--db", url, "webhook", "add", "gopher://example.org/")
    assert refused.exit_code == 1 and "must start with http:// or https://" in refused.output
    private = run("--db", url, "webhook", "add", "http://192.168.1.20/hook")
    assert private.exit_code == 1 and "facerec webhook allow-host 192.168.1.20" in private.output
    bad_type = run("--db", url, "webhook", "add", "http://192.168.1.20/hook", "--event", "checkout")
    assert bad_type.exit_code == 1
    assert run("--db", url, "webhook", "allow-host", "192.168.1.20").exit_code == 0
    bad_type = run("--db", url, "webhook", "add", "http://192.168.1.20/hook", "--event", "checkout")
    assert bad_type.exit_code == 1 and "unknown event type 'checkout'" in bad_type.output
    added = run("--db", url, "webhook", "add", "http://192.168.1.20/hook", "--event", "checkin", "--json")
    assert added.exit_code == 0, added.output
    made = json.loads(added.stdout)
    assert made["secret"].startswith("whsec_") and made["events"] == ["checkin"]
    listed = run("--db", url, "webhook", "list", "--json")
    assert made["secret"] not in listed.output and json.loads(listed.stdout)[0]["url"] == "http://192.168.1.20/hook"
    assert run("--db", url, "webhook", "retry", str(made["id"])).exit_code == 0
    missing = run("--db", url, "webhook", "remove", "99")
    assert missing.exit_code == 1 and "no subscription with id 99" in missing.output
    assert run("--db", url, "webhook", "remove", str(made["id"])).exit_code == 0
    assert json.loads(run("--db", url, "webhook", "list", "--json").stdout) == []

    assert run("--db", url, "mqtt", "set", "http://broker/").exit_code == 1
    broker = run("--db", url, "mqtt", "set", "mqtt://hass:s3cret@127.0.0.1:1883", "--site", "office")
    assert broker.exit_code == 0 and "s3cret" not in broker.output
    shown = json.loads(run("--db", url, "mqtt", "show", "--json").stdout)[0]
    assert shown["options"] == {"site": "office"} and shown["url"] == "mqtt://hass:***@127.0.0.1:1883"
    assert "s3cret" not in run("--db", url, "mqtt", "show").output
    broker_id = shown["id"]
    assert "s3cret" not in run("--db", url, "webhook", "retry", str(broker_id)).output  # any subscription's
    assert run("--db", url, "mqtt", "off").exit_code == 0

    People(store).rename("bob", "robert")
    lines = [json.loads(line) for line in run("--db", url, "events").stdout.splitlines()]
    assert [e["type"] for e in lines] == ["person.enrolled", "person.enrolled", "person.renamed"]
    after = run("--db", url, "events", "--after", str(lines[0]["id"]), "--event", "person.renamed").stdout
    assert [json.loads(line)["data"]["old_name"] for line in after.splitlines()] == ["bob"]

    settings = json.loads(run("--db", url, "event-settings", "--retention-days", "3", "--timeout", "2").stdout)
    assert settings["retention_days"] == 3 and settings["timeout_seconds"] == 2
    assert settings["allowed_hosts"] == ["192.168.1.20"]
