"""Keys with roles, the audit of changes made through the API, groups and clusters of unknown
sightings: through a real server on 127.0.0.1 and the CLI over the same SQLite file."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from alembic import command
from cli_run import EXAMPLES, enroll_people, new_key, run
from server_process import ServerProcess
from sqlalchemy import create_engine, text

from facerec.store import migrations
from facerec.store.api_keys import ApiKeys
from facerec.store.repository import Store


@pytest.fixture(scope="module")
def desk(tmp_path_factory, data):
    """A server over a store with obama and biden, and a key of every role."""
    folder = tmp_path_factory.mktemp("roles")
    url = f"sqlite:///{folder / 'store.db'}"
    enroll_people(url, data)
    keys = {role: new_key(url, f"{role} key", role) for role in ("checkin", "read", "enrol", "admin")}
    server = ServerProcess(url, log=folder / "server.log")
    clients = {
        role: httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) for role, key in keys.items()
    }
    yield clients, url
    for client in clients.values():
        client.close()
    server.stop()


def photo(data, path: str) -> bytes:
    return (data / EXAMPLES / path).read_bytes()


def test_a_key_made_without_a_role_is_the_narrowest(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    new_key(url, "door", None)
    listed = json.loads(run("--db", url, "apikey", "list", "--json").stdout)
    assert [(k["name"], k["role"]) for k in listed] == [("door", "checkin")]
    refused = run("--db", url, "apikey", "create", "boss", "--role", "owner")
    assert refused.exit_code != 0 and "admin" in refused.output  # names the roles there are


def test_keys_made_before_roles_keep_every_right(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(migrations._config(connection), "0006")
        connection.execute(
            text("INSERT INTO api_key (name, key_sha256, created_at) VALUES ('old', :sha, '2026-01-01 00:00:00')"),
            {"sha": hashlib.sha256(b"frk_old").hexdigest()},
        )
    assert ApiKeys(Store(url)).valid("frk_old") == ("old", "admin")


def test_each_role_reaches_only_what_it_may(desk, data):
    clients, _url = desk
    image = {"image": photo(data, "obama-480p.jpg")}
    checkin, read, enroll, admin = (clients[r] for r in ("checkin", "read", "enrol", "admin"))
    assert checkin.get("/v1/me").json() == {"name": "checkin key", "role": "checkin", "allows": ["checkin"]}
    assert admin.get("/v1/me").json()["allows"] == ["checkin", "read", "enrol", "admin"]
    # checkin: identify and check-ins, nothing else
    assert [f["name"] for f in checkin.post("/v1/identify", files=image).json()["faces"]] == ["obama"]
    done = checkin.post("/v1/checkin", files=image, data={"source": "door", "time": "2026-11-30T08:00:00Z"})
    assert done.status_code == 200 and done.json()["events"][0]["name"] == "obama"
    for response, needed in (
        (checkin.get("/v1/persons"), "read"),
        (checkin.get("/v1/attendance", params={"start": "2026-11-30", "end": "2026-12-01"}), "read"),
        (checkin.get("/v1/events/stream"), "read"),
        (read.post("/v1/persons/kit/images", files={"images": photo(data, "alex-lacamoire.png")}), "enrol"),
        (read.patch("/v1/persons/obama", json={"name": "barack"}), "enrol"),
        (read.delete("/v1/persons/obama"), "enrol"),
        (read.post("/v1/unknowns/assign", json={"name": "x", "sightings": [1]}), "enrol"),
        (enroll.patch("/v1/settings", json={"dedupe_seconds": 60}), "admin"),
        (enroll.get("/v1/audit"), "admin"),
    ):
        assert response.status_code == 403, response.text
        assert f"the {needed!r} role" in response.json()["detail"]
    # read may read; enrol may change people; admin may change settings
    assert {p["name"] for p in read.get("/v1/persons").json()} == {"obama", "biden"}
    assert read.get("/v1/attendance", params={"start": "2026-11-30", "end": "2026-12-01"}).status_code == 200
    assert enroll.patch("/v1/persons/biden", json={"name": "joe"}).json()["name"] == "joe"
    assert enroll.patch("/v1/persons/joe", json={"name": "biden"}).json()["name"] == "biden"
    assert admin.patch("/v1/settings", json={"dedupe_seconds": 120}).json()["dedupe_seconds"] == 120
    assert {p["name"] for p in read.get("/v1/persons").json()} == {"obama", "biden"}  # the refusals changed nothing


def test_settings_are_checked_and_take_effect(desk, data):
    clients, url = desk
    admin = clients["admin"]
    for bad in ({"threshold": 1.5}, {"threshold": -1.01}, {"dedupe_seconds": -1}, {"retention_days": "soon"}):
        response = admin.patch("/v1/settings", json=bad)
        assert response.status_code == 422 and isinstance(response.json()["detail"], str), bad
    changed = admin.patch("/v1/settings", json={"threshold": 0.95, "retention_days": 30}).json()
    assert changed["threshold"] == 0.95 and changed["retention_days"] == 30
    image = {"image": photo(data, "obama-480p.jpg")}
    strict = clients["checkin"].post("/v1/identify", files=image).json()["faces"][0]
    assert strict["name"] is None and strict["threshold"] == 0.95  # the stored threshold is used
    assert run("--db", url, "retention").stdout.strip() == "attendance kept for 30 days"
    cleared = admin.patch("/v1/settings", json={"clear_threshold": True, "retention_days": 0}).json()
    assert cleared["threshold"] is None and cleared["retention_days"] is None
    assert clients["checkin"].post("/v1/identify", files=image).json()["faces"][0]["name"] == "obama"


def test_groups_through_the_cli_the_api_and_the_report(desk, data):
    clients, url = desk
    assert run("--db", url, "group", "add", "class a", "obama").exit_code == 0
    assert json.loads(run("--db", url, "group", "list", "--json").stdout) == {"class a": ["obama"]}
    missing = run("--db", url, "group", "add", "class a", "nobody")
    assert missing.exit_code == 1 and "nobody" in missing.stderr
    moved = clients["enrol"].patch("/v1/groups/staff", json={"add": ["biden", "obama"]}).json()
    assert moved == {"group": "staff", "members": ["biden", "obama"]}
    refused = clients["enrol"].patch("/v1/groups/staff", json={"remove": ["obama", "nobody"]})
    assert refused.status_code == 404  # all or nothing
    assert clients["read"].get("/v1/groups").json() == {"groups": {"class a": ["obama"], "staff": ["biden", "obama"]}}
    biden = {"image": photo(data, "biden.jpg")}
    clients["checkin"].post("/v1/checkin", files=biden, data={"source": "door", "time": "2026-11-29T09:00:00Z"})
    day = {"start": "2026-11-29T00:00:00Z", "end": "2026-11-30T00:00:00Z"}
    report = clients["read"].get("/v1/attendance", params={**day, "group": "class a"}).json()
    assert report["present"] == [] and report["absent"] == ["obama"]  # biden came, but is not in class a
    staff = clients["read"].get("/v1/attendance", params={**day, "group": "staff"}).json()
    assert [r["name"] for r in staff["present"]] == ["biden"] and staff["absent"] == ["obama"]
    day_of = ("--date", "2026-11-29", "--tz", "UTC")
    cli_report = json.loads(run("--db", url, "report", *day_of, "--group", "class a", "--format", "json").stdout)
    assert cli_report["present"] == [] and cli_report["absent"] == ["obama"]
    unknown = run("--db", url, "report", "--group", "no such group")
    assert unknown.exit_code == 1 and "no group named" in unknown.stderr
    assert clients["read"].get("/v1/attendance", params={**day, "group": "nope"}).status_code == 404
    people = {p["name"]: p for p in clients["read"].get("/v1/persons").json()}
    assert people["obama"]["groups"] == ["class a", "staff"] and people["biden"]["last_seen"].startswith("2026-11-29")
    assert clients["enrol"].patch("/v1/groups/class a", json={"remove": ["obama"]}).json()["members"] == []
    assert "class a" not in clients["read"].get("/v1/groups").json()["groups"]


def test_unknown_sightings_are_clustered_and_a_cluster_assigned_at_once(desk, data):
    clients, url = desk
    strangers = [
        ("knn_examples/train/kit_harington/john1.jpeg", "front door", "2026-11-20T08:00:00Z"),
        ("knn_examples/train/rose_leslie/img1.jpg", "front door", "2026-11-20T08:30:00Z"),
        ("lin-manuel-miranda.png", "back door", "2026-11-21T10:00:00Z"),
        ("knn_examples/train/kit_harington/john2.jpeg", "back door", "2026-11-22T09:00:00Z"),
        ("knn_examples/train/rose_leslie/img2.jpg", "side door", "2026-11-23T09:00:00Z"),
    ]
    ids = {}
    for path, source, moment in strangers:
        fields = {"source": source, "time": moment, "unknowns": "true"}
        answer = clients["checkin"].post("/v1/checkin", files={"image": photo(data, path)}, data=fields)
        events = answer.json()["events"]
        assert [e["event"] for e in events] == ["unknown"], path
        ids[path] = events[0]["event_id"]
    found = {u["id"]: u["cluster"] for u in clients["read"].get("/v1/unknowns", params={"clusters": True}).json()}
    kit = {found[ids[p]] for p in ids if "kit_harington" in p}
    rose = {found[ids[p]] for p in ids if "rose_leslie" in p}
    lin = found[ids["lin-manuel-miranda.png"]]
    assert len(kit) == len(rose) == 1 and len(kit | rose | {lin}) == 3  # one cluster per stranger
    assert sorted(set(found.values())) == [1, 2, 3]
    listed = json.loads(run("--db", url, "unknowns", "--clusters", "--json").stdout)
    assert {u["id"]: u["cluster"] for u in listed} == found  # the CLI says the same
    assert "unknown 1\t" in run("--db", url, "unknowns", "--clusters").stdout
    cluster = [i for i, c in found.items() if c in kit]
    refused = clients["enrol"].post("/v1/unknowns/assign", json={"name": "kit", "sightings": [*cluster, 999999]})
    assert refused.status_code == 404 and len(clients["read"].get("/v1/unknowns").json()) == 5  # none assigned
    assigned = clients["enrol"].post("/v1/unknowns/assign", json={"name": "kit", "sightings": cluster})
    assert assigned.json() == {"name": "kit", "sightings": cluster, "samples": 2}
    assert {u["id"] for u in clients["read"].get("/v1/unknowns").json()} == set(found) - set(cluster)
    latest = clients["admin"].get("/v1/audit", params={"limit": 1}).json()[0]  # one change, one entry
    assert (latest["key"], latest["action"], latest["target"], latest["details"]) == (
        "enrol key",
        "assign",
        "kit",
        {"sightings": cluster},
    )
    kit_photo = {"image": photo(data, "knn_examples/train/kit_harington/john1.jpeg")}
    assert clients["checkin"].post("/v1/identify", files=kit_photo).json()["faces"][0]["name"] == "kit"


def test_a_sighting_of_an_enrolled_person_is_not_assigned_to_another_name(desk, data):
    """``assign`` keeps enrolment's duplicate-identity rule: rose, seen as a stranger before she was
    enrolled, cannot become 'mallory' (HTTP 409 and the CLI, naming her); she stays assignable as
    herself, and an admin may assign her to a twin."""
    clients, url = desk
    rose = [photo(data, f"knn_examples/train/rose_leslie/img{i}.jpg") for i in (1, 2)]
    fields = {"source": "side door", "time": "2026-11-24T09:00:00Z", "unknowns": "true"}
    sighting = clients["checkin"].post("/v1/checkin", files={"image": rose[1]}, data=fields).json()["events"][0]
    assert sighting["event"] == "unknown"
    assert clients["enrol"].post("/v1/persons/rose/images", files={"images": rose[0]}).status_code == 201
    try:
        body = {"name": "mallory", "sightings": [sighting["event_id"]]}
        refused = clients["enrol"].post("/v1/unknowns/assign", json=body)
        assert refused.status_code == 409 and "enrolled already as 'rose'" in refused.json()["detail"], refused.text
        cli_result = run("--db", url, "assign", sighting["event_id"], "mallory")
        assert cli_result.exit_code == 1 and "enrolled already as 'rose'" in cli_result.stderr
        assert "mallory" not in [p["name"] for p in clients["read"].get("/v1/persons").json()]
        assert sighting["event_id"] in [u["id"] for u in clients["read"].get("/v1/unknowns").json()]
        twin = clients["enrol"].post("/v1/unknowns/assign", json=body | {"allow_duplicate": True})
        assert twin.status_code == 403
        own = clients["enrol"].post("/v1/unknowns/assign", json=body | {"name": "rose"})
        assert own.status_code == 200 and own.json()["samples"] == 2
    finally:
        clients["admin"].delete("/v1/persons/rose")


def test_changes_through_the_api_are_audited(desk, data):
    clients, url = desk
    enroll = clients["enrol"]
    before = clients["admin"].get("/v1/audit").json()
    files = {"images": photo(data, "alex-lacamoire.png")}
    assert enroll.post("/v1/persons/alex/images", files=files).status_code == 201
    again = enroll.post("/v1/persons/alex/images", files=files)
    assert again.status_code == 422  # a refused change leaves no entry
    assert enroll.patch("/v1/persons/alex", json={"name": "alex lacamoire"}).status_code == 200
    assert enroll.delete("/v1/persons/alex lacamoire").status_code == 200
    entries = clients["admin"].get("/v1/audit").json()
    new = entries[: len(entries) - len(before)]
    assert [(e["key"], e["action"], e["target"]) for e in new] == [
        ("enrol key", "remove", "alex lacamoire"),
        ("enrol key", "rename", "alex"),
        ("enrol key", "enrol", "alex"),
    ]
    assert new[1]["details"] == {"to": "alex lacamoire"} and new[2]["details"] == {"added": 1}
    shown = json.loads(run("--db", url, "audit", "--json", "--limit", "3").stdout)
    assert shown == new  # `facerec audit` lists the same, newest first
    lines = run("--db", url, "audit", "--limit", "1").stdout.splitlines()
    assert lines[0].split("\t")[1:4] == ["enrol key", "remove", "alex lacamoire"]
    assert clients["read"].patch("/v1/settings", json={"dedupe_seconds": 5}).status_code == 403
    assert clients["admin"].patch("/v1/settings", json={"dedupe_seconds": 90}).status_code == 200
    assert enroll.patch("/v1/groups/night shift", json={"add": ["obama"]}).status_code == 200
    latest = clients["admin"].get("/v1/audit", params={"limit": 2}).json()
    assert [(e["key"], e["action"], e["target"]) for e in latest] == [
        ("enrol key", "group_add", "night shift"),
        ("admin key", "settings", "attendance"),
    ]
    assert latest[0]["details"] == {"people": ["obama"]} and latest[1]["details"]["value"]["dedupe_seconds"] == 90
    assert not any(e["key"] in ("checkin key", "read key") for e in clients["admin"].get("/v1/audit").json())
