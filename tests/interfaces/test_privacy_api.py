"""A store a data-protection officer can sign off, through the command line and a real server on
127.0.0.1 over one encrypted SQLite file: consent before enrolment, a person's data on request,
withdrawal that makes identify forget them, a store that will not open without its key."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cli_run import EXAMPLES, TRAIN, new_key, run
from PIL import Image
from server_process import ServerProcess

from facerec.errors import EncryptionKeyError
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.sealing import Keyring
from facerec.store.spoofs import SpoofEvents


@pytest.fixture(scope="module")
def office(tmp_path_factory, data):
    """An encrypted store that requires consent, obama and biden enrolled with it, and a server."""
    folder = tmp_path_factory.mktemp("privacy")
    url = f"sqlite:///{folder / 'store.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("FACEREC_KEY", raising=False)
        env.setenv("FACEREC_KEY_FILE", str(folder / "store.key"))
        made = run("keys", "new", folder / "store.key")
        assert made.exit_code == 0, made.output
        assert run("--db", url, "privacy", "--require-consent", "on").exit_code == 0
        refused = run("--db", url, "enroll", "obama", data / TRAIN / "obama")
        assert refused.exit_code == 1
        assert "requires consent before enrolment and holds none for 'obama'" in refused.output
        for name in ("obama", "biden"):
            given = run("--db", url, "consent", "give", name, "--purpose", "attendance", "--policy", "v1")
            assert given.exit_code == 0, given.output
            enrolled = run("--db", url, "enroll", name, data / TRAIN / name)
            assert enrolled.exit_code == 0, enrolled.output
        keys = {role: new_key(url, f"{role} key", role) for role in ("read", "enrol", "admin")}
        server = ServerProcess(url, log=folder / "server.log", env={"FACEREC_KEY_FILE": str(folder / "store.key")})
        clients = {r: httpx.Client(base_url=server.url, headers={"X-API-Key": k}, timeout=120) for r, k in keys.items()}
        yield clients, url, folder, env
        for client in clients.values():
            client.close()
        server.stop()


def test_the_store_does_not_open_without_its_key(office):
    _clients, url, folder, env = office
    with pytest.raises(EncryptionKeyError, match="set FACEREC_KEY_FILE"):
        Store(url, keyring=Keyring())
    env.delenv("FACEREC_KEY_FILE")
    try:
        listed = run("--db", url, "list")
    finally:
        env.setenv("FACEREC_KEY_FILE", str(folder / "store.key"))
    assert listed.exit_code == 1 and "encrypted with key" in listed.output
    status = run("--db", url, "keys", "status")
    assert status.exit_code == 0 and status.output.count(Keyring.from_environment().current.id) == 2


def test_privacy_settings_from_the_command_line(office):
    _clients, url, _folder, _env = office
    shown = json.loads(run("--db", url, "privacy", "--template-retention", "3y", "--json").stdout)
    expected = {"require_consent": True, "template_retention_days": 1095, "keep_photos": True, "purged": []}
    assert shown == expected  # BIPA's outer bound; no one enrolled that long ago
    bad = run("--db", url, "privacy", "--keep-photos", "maybe")
    assert bad.exit_code == 1 and "on or off" in bad.output
    assert "templates kept: until removed" in run("--db", url, "privacy", "--template-retention", "off").stdout


def test_enrollment_over_http_needs_consent(office, data):
    clients, _url, _folder, _env = office
    photo = (data / TRAIN / "kit_harington" / "john1.jpeg").read_bytes()
    refused = clients["enrol"].post("/v1/persons/kit/images", files=[("images", ("john1.jpeg", photo, "image/jpeg"))])
    assert refused.status_code == 422 and "requires consent" in refused.json()["detail"]
    assert "kit" not in [p["name"] for p in clients["read"].get("/v1/persons").json()]


def test_export_holds_what_is_held_about_the_person_and_nothing_about_anyone_else(office):
    clients, url, folder, _env = office
    now = datetime.now(UTC)
    store = Store(url)
    for name in ("obama", "biden"):
        AttendanceLog(store).record(name, "door", now, now, 0.8, png_bytes(), 3, timedelta(hours=8))
        SpoofEvents(store).add("door", now, now, name, 0.7, 0.9, png_bytes(), 2)
    assert clients["read"].get("/v1/persons/obama/export").status_code == 403  # admin only
    samples = clients["read"].get("/v1/persons/obama/samples").json()
    crop = clients["read"].get(f"/v1/samples/{samples[0]['id']}/crop").content  # a read, audited
    biden = clients["read"].get(f"/v1/samples/{clients['read'].get('/v1/persons/biden/samples').json()[0]['id']}/crop")
    answer = clients["admin"].get("/v1/persons/obama/export")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    document = json.loads(archive.read("person.json"))
    assert document["person"]["name"] == "obama" and len(document["samples"]) == len(samples) == 2
    assert [c["subject"] for c in document["consents"]] == ["obama"]
    assert [e["name"] for e in document["attendance"]] == ["obama"]
    assert [s["claimed"] for s in document["spoof_events"]] == ["obama"]
    assert {"consent_given", "read_crop"} <= {line["action"] for line in document["audit"]}
    assert crop in [archive.read(n) for n in archive.namelist() if n.startswith("crops/")]
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert b"biden" not in everything and biden.content not in everything
    # The same from the command line, and the export is itself in the audit.
    written = run("--db", url, "export", folder / "obama.zip", "--person", "obama")
    assert written.exit_code == 0, written.output
    assert json.loads(zipfile.ZipFile(folder / "obama.zip").read("person.json"))["person"]["name"] == "obama"
    audit = json.loads(run("--db", url, "audit", "--json").stdout)
    assert [(e["key"], e["target"]) for e in audit if e["action"] == "export"][:2] == [
        ("local", "obama"),
        ("admin key", "obama"),
    ]


def test_withdrawal_over_http_makes_identify_forget_the_person(office, data):
    clients, url, _folder, _env = office
    photo = {"image": (data / EXAMPLES / "obama-480p.jpg").read_bytes()}
    assert [f["name"] for f in clients["read"].post("/v1/identify", files=photo).json()["faces"]] == ["obama"]
    now = datetime.now(UTC)
    spoof = SpoofEvents(Store(url)).add("door", now, now, "obama", 0.7, 0.9, png_bytes(), 2).id
    held = clients["read"].get(f"/v1/spoofs/{spoof}/snapshot")
    assert held.content == png_bytes() and "x-facerec-no-photo" not in held.headers
    answer = clients["enrol"].delete("/v1/persons/obama/consent")
    assert answer.status_code == 200, answer.text
    receipt = answer.json()["receipt"]
    assert (receipt["samples"], receipt["crops"], receipt["centroids"], receipt["consents_withdrawn"]) == (2, 2, 1, 1)
    assert [f["name"] for f in clients["read"].post("/v1/identify", files=photo).json()["faces"]] == [None]
    assert clients["read"].get("/v1/persons/obama/samples").json() == []
    consent = clients["read"].get("/v1/persons/obama/consent").json()
    assert consent[0]["withdrawn_by"] == "enrol key"
    erased = clients["read"].get(f"/v1/spoofs/{spoof}/snapshot")  # the placeholder, as for events and crops
    assert erased.headers["x-facerec-no-photo"] == "1" and erased.content.startswith(b"\x89PNG")


def png_bytes() -> bytes:
    """A small real PNG: what a spoof event keeps of the face held up to the camera."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 90, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_with_no_photos_kept_the_desk_gets_a_placeholder(office, data):
    clients, url, _folder, _env = office
    assert clients["enrol"].patch("/v1/privacy", json={"keep_photos": False}).status_code == 403  # admin only
    changed = clients["admin"].patch("/v1/privacy", json={"keep_photos": False})
    assert changed.status_code == 200 and changed.json()["keep_photos"] is False
    try:
        given = clients["enrol"].post("/v1/persons/kit/consent", json={"purpose": "attendance", "policy_version": "v1"})
        assert given.status_code == 201 and given.json()["recorded_by"] == "enrol key"
        photo = (data / TRAIN / "kit_harington" / "john1.jpeg").read_bytes()
        enrolled = clients["enrol"].post("/v1/persons/kit/images", files=[("images", ("k.jpeg", photo, "image/jpeg"))])
        assert enrolled.status_code == 201, enrolled.text
        sample = clients["read"].get("/v1/persons/kit/samples").json()[0]
        shown = clients["read"].get(f"/v1/samples/{sample['id']}/crop")
        assert shown.status_code == 200 and shown.headers["x-facerec-no-photo"] == "1"
        assert shown.content.startswith(b"\x89PNG")
    finally:
        clients["admin"].patch("/v1/privacy", json={"keep_photos": True})
