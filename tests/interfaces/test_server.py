"""The HTTP API through a real uvicorn server on 127.0.0.1: every endpoint, keys, bad uploads,
concurrency, and two server processes sharing one PostgreSQL store."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cli_run import enroll_people, new_key, run
from PIL import Image
from server_process import ServerProcess


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, tmp_path_factory, data):
    """A server over a store with three people, on each backend."""
    folder = tmp_path_factory.mktemp("server")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    enroll_people(url, data, ("obama", "biden", "kit_harington"))
    key = new_key(url, "tests")
    server = ServerProcess(url, log=folder / "server.log")
    client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
    yield client, url, server
    client.close()
    server.stop()


def photo(data, name: str) -> bytes:
    return (data / "face_recognition/examples" / name).read_bytes()


def test_health_version_and_docs_need_no_key(api):
    client, url, server = api
    bare = httpx.Client(base_url=server.url)
    assert bare.get("/health").json()["status"] == "ok"
    version = bare.get("/version").json()
    assert version["model"] == "casia-webface"
    assert version["index"] == ("faiss" if url.startswith("sqlite") else "pgvector")  # the default of each
    schema = bare.get("/openapi.json").json()
    assert {"/v1/identify", "/v1/checkin", "/v1/attendance", "/v1/persons/{name}"} <= set(schema["paths"])
    assert bare.get("/docs").status_code == 200


def test_keys_missing_wrong_or_revoked_get_401(api):
    client, url, server = api
    bare = httpx.Client(base_url=server.url)
    assert bare.get("/v1/persons").status_code == 401
    assert bare.get("/v1/persons", headers={"X-API-Key": "frk_wrong"}).status_code == 401
    key = new_key(url, "temporary")
    assert bare.get("/v1/persons", headers={"X-API-Key": key}).status_code == 200
    assert run("--db", url, "apikey", "revoke", "temporary").exit_code == 0
    response = bare.get("/v1/persons", headers={"X-API-Key": key})
    assert response.status_code == 401 and "X-API-Key" in response.json()["detail"]
    listed = json.loads(run("--db", url, "apikey", "list", "--json").stdout)
    assert {k["name"]: bool(k["revoked"]) for k in listed} == {"temporary": True, "tests": False}
    assert all("key" not in k for k in listed)


def test_detect_identify_and_verify(api, data):
    client, _url, _server = api
    faces = client.post("/v1/detect", files={"image": photo(data, "two_people.jpg")}).json()["faces"]
    assert len(faces) == 2 and all(f["confidence"] > 0.99 for f in faces)
    # base64 in JSON, the other way in
    encoded = base64.b64encode(photo(data, "obama-480p.jpg")).decode()
    found = client.post("/v1/identify", json={"image": encoded}, params={"top_k": 2}).json()["faces"]
    assert [f["name"] for f in found] == ["obama"] and len(found[0]["candidates"]) == 2
    first, second = found[0]["candidates"]
    assert found[0]["margin"] == pytest.approx(first["similarity"] - second["similarity"])
    assert 0.4 < found[0]["threshold"] < found[0]["similarity"]  # the operating point, applied
    strict = client.post("/v1/identify", json={"image": encoded}, params={"threshold": 0.99}).json()["faces"]
    assert strict[0]["name"] is None and strict[0]["threshold"] == 0.99
    stranger = client.post("/v1/identify", files={"image": photo(data, "lin-manuel-miranda.png")}).json()
    assert [f["name"] for f in stranger["faces"]] == [None]
    same = client.post(
        "/v1/verify", files={"image1": photo(data, "obama.jpg"), "image2": photo(data, "obama2.jpg")}
    ).json()
    assert same["same"] is True
    different = client.post(
        "/v1/verify", files={"image1": photo(data, "obama.jpg"), "image2": photo(data, "biden.jpg")}
    ).json()
    assert different["same"] is False


def test_people_endpoints(api, data):
    client, _url, _server = api
    train = data / "face_recognition/examples/knn_examples/train/rose_leslie"
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in sorted(train.iterdir())]
    created = client.post("/v1/persons/rose leslie/images", files=files)
    assert created.status_code == 201, created.text
    assert created.json()["samples"] == 2
    again = client.post("/v1/persons/rose leslie/images", files=files[:1])
    assert again.status_code == 422 and "already enrolled" in again.text  # nothing new added
    names = [p["name"] for p in client.get("/v1/persons").json()]
    assert "rose leslie" in names
    person = client.get("/v1/persons/rose leslie").json()
    assert person["name"] == "rose leslie" and len(person["samples"]) == 2  # as `facerec show --json`
    samples = client.get("/v1/persons/rose leslie/samples").json()
    assert len(samples) == 2
    assert client.patch("/v1/persons/rose leslie", json={"name": "obama"}).status_code == 409
    assert client.patch("/v1/persons/rose leslie", json={"name": "rose"}).json()["name"] == "rose"
    assert client.delete(f"/v1/samples/{samples[0]['id']}").json()["person"] == "rose"
    assert len(client.get("/v1/persons/rose").json()["samples"]) == 1
    removed = client.delete("/v1/persons/rose").json()
    assert (removed["removed"], removed["samples"], removed["receipt"]["crops"]) == ("rose", 1, 1)  # and the receipt
    for response in (
        client.get("/v1/persons/rose"),
        client.delete("/v1/persons/rose"),
        client.delete("/v1/samples/999999"),
        client.patch("/v1/persons/nobody", json={"name": "x"}),
    ):
        assert response.status_code == 404 and response.json()["detail"]


def test_bad_uploads(api, data):
    client, _url, _server = api
    big = b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024)
    assert client.post("/v1/detect", files={"image": big}).status_code == 413
    text = client.post("/v1/detect", files={"image": b"hello, this is text"})
    assert text.status_code == 415 and "not an image" in text.json()["detail"]
    corrupt = client.post("/v1/detect", files={"image": photo(data, "obama.jpg")[:300]})
    assert corrupt.status_code == 422
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    no_face = client.post("/v1/verify", files={"image1": blank.getvalue(), "image2": photo(data, "obama.jpg")})
    assert no_face.status_code == 422 and "no face" in no_face.json()["detail"]
    assert client.post("/v1/identify", json={"image": "not base64!"}).status_code == 422
    assert client.post("/v1/identify", json={}).status_code == 422
    assert client.post("/v1/identify", content=b"raw", headers={"Content-Type": "text/plain"}).status_code == 415


def test_one_bad_file_is_skipped_by_name_and_the_good_ones_enrolled(api, data):
    """As the CLI does: the answer names each file and its outcome, and the good photo is enrolled."""
    client, _url, _server = api
    files = [
        ("images", ("lin.png", photo(data, "lin-manuel-miranda.png"), "image/png")),
        ("images", ("fake.jpg", b"this is text, not a photo", "image/jpeg")),
        ("images", ("C:\\photos\\group.jpg", photo(data, "two_people.jpg"), "image/jpeg")),
        ("images", ("lin.png", photo(data, "obama.jpg"), "image/jpeg")),  # a name given twice: numbered
    ]
    answer = client.post("/v1/persons/lin/images", files=files)
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["added"] == ["lin.png"] and report["samples"] == 1
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"fake.jpg", "group.jpg", "lin.png [3]"}
    assert "not an image" in reasons["fake.jpg"] and "2 faces" in reasons["group.jpg"]
    assert "enrolled already as 'obama'" in reasons["lin.png [3]"]
    # Only bad files: nothing enrolled, and the report still says why each one was not.
    bad = client.post("/v1/persons/nobody/images", json={"images": [base64.b64encode(b"text").decode()]})
    assert bad.status_code == 422 and [s["file"] for s in bad.json()["skipped"]] == ["images[0]"]
    assert client.get("/v1/persons/nobody").status_code == 404
    assert client.delete("/v1/persons/lin").json()["samples"] == 1


def test_errors_speak_of_api_parameters(api, data):
    client, _url, _server = api
    answer = client.post(
        "/v1/verify", files={"image1": photo(data, "two_people.jpg"), "image2": photo(data, "obama.jpg")}
    )
    assert answer.status_code == 422
    assert "largest=true" in answer.json()["detail"] and "--" not in answer.json()["detail"]


def test_checkin_and_attendance(api, data):
    client, _url, _server = api
    image = photo(data, "obama-480p.jpg")
    first = client.post(
        "/v1/checkin", files={"image": image}, data={"source": "front door", "time": "2026-11-24T08:05:00+00:00"}
    ).json()["events"]
    assert [(e["event"], e["name"], e["source"]) for e in first] == [("check_in", "obama", "front door")]
    second = client.post(
        "/v1/checkin",
        json={"image": base64.b64encode(image).decode(), "source": "front door", "time": "2026-11-24T09:00:00Z"},
    ).json()["events"]
    assert [(e["event"], e["event_id"]) for e in second] == [("update", first[0]["event_id"])]
    stranger = client.post(
        "/v1/checkin", files={"image": photo(data, "lin-manuel-miranda.png")}, data={"source": "front door"}
    ).json()
    assert stranger["events"] == []
    kept = client.post(
        "/v1/checkin",
        files={"image": photo(data, "lin-manuel-miranda.png")},
        data={"source": "front door", "unknowns": "true"},
    ).json()["events"]
    assert [e["event"] for e in kept] == ["unknown"]
    unknowns = client.get("/v1/unknowns").json()
    assert kept[0]["event_id"] in {u["id"] for u in unknowns} and all(u.get("cluster") is None for u in unknowns)
    numbered = client.get("/v1/unknowns", params={"clusters": True}).json()
    assert [u["id"] for u in numbered] == [u["id"] for u in unknowns] and {u["cluster"] for u in numbered} == {1}
    snapshot = client.get(f"/v1/unknowns/{kept[0]['event_id']}/snapshot")
    assert snapshot.headers["content-type"] == "image/png" and Image.open(io.BytesIO(snapshot.content)).size
    day = client.get(
        "/v1/attendance", params={"start": "2026-11-24T00:00:00+00:00", "end": "2026-11-25T00:00:00+00:00"}
    ).json()
    assert [(r["name"], r["source"]) for r in day["present"]] == [("obama", "front door")]
    assert "biden" in day["absent"] and len(day["events"]) == 1
    assert client.post("/v1/checkin", files={"image": image}).status_code == 422  # no source


def test_fifty_concurrent_identify_requests(api, data):
    client, _url, _server = api
    photos = {"obama": photo(data, "obama-480p.jpg"), "biden": photo(data, "biden.jpg")}
    jobs = [name for _ in range(25) for name in photos]

    def identify(name: str) -> tuple[str, int, list]:
        response = client.post("/v1/identify", files={"image": photos[name]})
        return name, response.status_code, [f["name"] for f in response.json().get("faces", [])]

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(identify, jobs))
    assert all(status == 200 for _, status, _ in results)
    assert all(found == [name] for name, _, found in results)


@pytest.mark.slow
def test_two_server_processes_share_one_postgresql_store(postgres, data, tmp_path):
    url = postgres.new_database()
    enroll_people(url, data)
    key = new_key(url, "cluster")
    first = ServerProcess(url, "--workers", "2", log=tmp_path / "first.log")  # itself two processes
    second = ServerProcess(url, log=tmp_path / "second.log")
    try:
        a = httpx.Client(base_url=first.url, headers={"X-API-Key": key}, timeout=120)
        b = httpx.Client(base_url=second.url, headers={"X-API-Key": key}, timeout=120)
        assert a.get("/version").json()["index"] == b.get("/version").json()["index"] == "pgvector"
        kit = photo(data, "knn_examples/train/kit_harington/john1.jpeg")
        assert [f["name"] for f in b.post("/v1/identify", files={"image": kit}).json()["faces"]] == [None]
        enrolled = a.post(
            "/v1/persons/kit/images",
            files=[("images", photo(data, "knn_examples/train/kit_harington/john2.jpeg"))],
        )
        assert enrolled.status_code == 201
        assert [f["name"] for f in b.post("/v1/identify", files={"image": kit}).json()["faces"]] == ["kit"]
        obama = photo(data, "obama-480p.jpg")
        assert [f["name"] for f in b.post("/v1/identify", files={"image": obama}).json()["faces"]] == ["obama"]
        assert a.delete("/v1/persons/obama").status_code == 200
        after = b.post("/v1/identify", files={"image": obama}).json()["faces"]
        assert [f["name"] for f in after] == [None]  # never a stale match after a removal
    finally:
        first.stop()
        second.stop()


def test_the_key_guard_throttles_an_address_or_a_key_prefix_for_its_window_only(tmp_path):
    from fastapi import HTTPException

    from facerec.interfaces.key_lockout import KeyGuard

    now = [100.0]
    guard = KeyGuard(tmp_path / "guard.db", failures=3, window=60, clock=lambda: now[0])
    for i in range(3):
        guard.wrong_key("10.0.0.1", f"frk_{i:08d}xyz")
    with pytest.raises(HTTPException) as refused:
        guard.wrong_key("10.0.0.1", "frk_another-one")
    assert refused.value.status_code == 429 and refused.value.headers["Retry-After"] == "60"
    guard.wrong_key("10.0.0.2", "frk_another-one")  # another address is not affected
    other = KeyGuard(tmp_path / "guard.db", failures=3, window=60, clock=lambda: now[0])  # another worker
    with pytest.raises(HTTPException):
        other.wrong_key("10.0.0.1", None)
    for i in range(3, 6):
        other.wrong_key(f"10.0.1.{i}", "frk_leakedstart-1")
    with pytest.raises(HTTPException):
        guard.wrong_key("10.0.1.9", "frk_leakedstart-2")  # the same 12 first characters
    now[0] += 61
    guard.wrong_key("10.0.0.1", "frk_leakedstart-3")  # the window has passed for both
