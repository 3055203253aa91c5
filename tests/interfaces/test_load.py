"""Many clients at once against a real `facerec serve` on 127.0.0.1: every answer right, the excess
refused with 503 and Retry-After rather than queued without bound, light requests never waiting
behind model work, and memory that does not grow with the requests served.

The figures (latency percentiles, requests per second) are printed by benchmarks/load.py; here
only correctness and bounds are asserted."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cli_run import TRAIN, new_key, run
from server_process import ServerProcess

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("load")
    url = f"sqlite:///{folder / 'store.db'}"
    for name in ("obama", "biden", "kit_harington"):
        assert run("--db", url, "enroll", name, data / TRAIN / name).exit_code == 0
    key = new_key(url, "load")
    photos = {
        "obama": (data / "face_recognition/examples/obama-480p.jpg").read_bytes(),
        "biden": (data / "face_recognition/examples/biden.jpg").read_bytes(),
    }
    return url, key, photos, folder


async def _identify_all(url: str, key: str, photos: dict[str, bytes], count: int) -> list[tuple[str, int, list]]:
    """``count`` identify requests sent at once, each on its own connection."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=300, limits=limits) as client:

        async def one(name: str) -> tuple[str, int, list]:
            response = await client.post("/v1/identify", files={"image": photos[name]})
            found = [f["name"] for f in response.json().get("faces", [])] if response.status_code == 200 else []
            return name, response.status_code, found

        names = [name for _ in range(count // len(photos)) for name in photos]
        return await asyncio.gather(*(one(name) for name in names))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_two_hundred_concurrent_identifications_are_all_answered_right(gallery, workers):
    url, key, photos, folder = gallery
    server = ServerProcess(url, "--workers", workers, log=folder / f"server-{workers}.log")
    try:
        results = asyncio.run(_identify_all(server.url, key, photos, 200))
    finally:
        server.stop()
    assert len(results) == 200
    assert {status for _, status, _ in results} == {200}
    assert all(found == [name] for name, _, found in results)


def test_a_burst_beyond_the_queue_gets_503_for_the_excess_and_right_answers_for_the_rest(gallery):
    url, key, photos, folder = gallery
    server = ServerProcess(url, "--max-pending", "4", log=folder / "burst.log")
    try:
        results = asyncio.run(_identify_all(server.url, key, photos, 40))
        statuses = [status for _, status, _ in results]
        assert set(statuses) == {200, 503} and statuses.count(200) >= 4
        assert all(found == [name] for name, status, found in results if status == 200)
        refused = httpx.Client(base_url=server.url, headers={"X-API-Key": key})
        health = refused.get("/health").json()
        assert health["status"] == "ok" and health["model_queue"]["pending"] == 0
        assert health["model_queue"]["shed"] == statuses.count(503)
        # the 503 says when to come back, and the server is healthy afterwards
        with ThreadPoolExecutor(12) as pool:
            image = {"image": photos["obama"]}
            answers = list(pool.map(lambda _: refused.post("/v1/identify", files=image), range(12)))
        busy = [a for a in answers if a.status_code == 503]
        assert all(int(a.headers["Retry-After"]) >= 1 and "busy" in a.json()["detail"] for a in busy)
        after = refused.post("/v1/identify", files={"image": photos["biden"]})
        assert after.status_code == 200 and after.json()["faces"][0]["name"] == "biden"
    finally:
        server.stop()


def test_light_requests_and_health_do_not_wait_behind_model_work(gallery):
    url, key, photos, folder = gallery
    server = ServerProcess(url, log=folder / "light.log")
    try:
        client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
        client.post("/v1/identify", files={"image": photos["obama"]})  # warm
        started = time.monotonic()
        with ThreadPoolExecutor(60) as pool:
            burst = [pool.submit(client.post, "/v1/identify", files={"image": photos["obama"]}) for _ in range(60)]
            time.sleep(0.5)  # the burst is queued for the models now
            quick = time.monotonic()
            people = client.get("/v1/persons")
            health = client.get("/health")
            light = time.monotonic() - quick
            pending = health.json()["model_queue"]["pending"]
            assert all(f.result().status_code == 200 for f in burst)
        whole = time.monotonic() - started
        assert people.status_code == 200 and len(people.json()) == 3
        assert pending > 10  # the light requests really were sent while the models were busy
        assert light < whole / 4, (light, whole)  # answered without waiting for the burst
    finally:
        server.stop()


def test_a_request_whose_client_went_away_is_not_computed(gallery):
    url, key, photos, folder = gallery
    # A backlog longer than the impatient clients wait in all (5 x 0.2 s): 80 identifications.
    server = ServerProcess(url, "--max-pending", "128", log=folder / "gone.log")
    try:
        client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
        with ThreadPoolExecutor(85) as pool:
            kept = [pool.submit(client.post, "/v1/identify", files={"image": photos["obama"]}) for _ in range(80)]
            time.sleep(0.3)
            impatient = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=0.2)
            for _ in range(5):
                with pytest.raises(httpx.TimeoutException):
                    impatient.post("/v1/identify", files={"image": photos["biden"]})
            assert all(f.result().status_code == 200 for f in kept)
        deadline = time.monotonic() + 30
        while (queue := client.get("/health").json()["model_queue"])["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert queue["abandoned"] == 5 and queue["done"] == 80, queue
    finally:
        server.stop()


def test_a_request_over_its_time_limit_is_answered_not_left_hanging(gallery):
    url, key, photos, folder = gallery
    server = ServerProcess(url, "--request-timeout", "1", log=folder / "timeout.log")
    try:
        results = asyncio.run(_identify_all(server.url, key, photos, 60))
        statuses = {status for _, status, _ in results}
        assert 200 in statuses and statuses <= {200, 503, 504} and statuses & {503, 504}
        assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    finally:
        server.stop()


def test_a_sustained_mixed_load_does_not_grow_the_server(gallery, data):
    """60 s of identify, check-in, listing, enrolment and reports from 4 clients; the server's
    resident memory, sampled, may settle after warm-up but not grow with the requests (a leak of
    even 20 KB a request would add 40+ MB over the run)."""
    url, key, photos, folder = gallery
    server = ServerProcess(url, log=folder / "sustained.log")
    kit = (data / TRAIN / "kit_harington/john1.jpeg").read_bytes()
    errors: list[str] = []
    counts = {"requests": 0}

    def client_loop(worker: int, until: float) -> None:
        client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
        i = 0
        while time.monotonic() < until:
            i += 1
            kind = (worker + i) % 5
            if kind == 0:
                response = client.post("/v1/identify", files={"image": photos["obama"]})
            elif kind == 1:
                door = {"source": f"door {worker}"}
                response = client.post("/v1/checkin", files={"image": photos["biden"]}, data=door)
            elif kind == 2:
                response = client.get("/v1/persons")
            elif kind == 3:
                # a visitor enrolled and removed again (kept, the next would be refused: the same face)
                response = client.post(f"/v1/persons/visitor {worker}-{i}/images", files={"images": kit})
                if response.status_code == 201:
                    response = client.delete(f"/v1/persons/visitor {worker}-{i}")
                elif "enrolled already" not in response.text:  # another worker's visitor, there just now
                    errors.append(f"enrol: {response.status_code} {response.text[:200]}")
            else:
                response = client.get("/v1/attendance", params={"start": "2026-01-01", "end": "2030-01-01"})
            counts["requests"] += 1
            if response.status_code >= 500:
                errors.append(f"{response.status_code} {response.text[:200]}")

    try:
        warm_until = time.monotonic() + 10
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda w: client_loop(w, warm_until), range(4)))
        settled = server.memory()[0]
        samples = []
        until = time.monotonic() + 60
        with ThreadPoolExecutor(5) as pool:
            clients = [pool.submit(client_loop, w, until) for w in range(4)]
            while time.monotonic() < until:
                samples.append(server.memory()[0])
                time.sleep(2)
            for done in clients:
                done.result()
        assert not errors, errors[:3]
        assert counts["requests"] > 200
        grown = max(samples[len(samples) // 2 :]) - settled
        assert grown < 64 * 2**20, [round(s / 2**20) for s in [settled, *samples]]
    finally:
        server.stop()
