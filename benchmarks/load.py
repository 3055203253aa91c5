"""Figures for the server under load: latency percentiles and throughput, shedding, memory.

    python benchmarks/load.py [--requests 200] > benchmarks/results-load.txt

Run it alone on the machine (it times things). On a real `facerec serve` on 127.0.0.1 with three
people enrolled:

1. One client, one request at a time: the latency of a warm identify (the floor for everything
   below), then ``--requests`` identify requests sent at once, each on its own connection, with one
   worker and with ``--workers 2``: p50 / p95 / p99 of the latencies as each client saw them
   (queueing included), requests/s over the burst, and the ratio of that throughput to the
   sequential client's (how much concurrency buys on this machine's cores).
2. A burst of 40 against ``--max-pending 4``: how many were shed with 503, how fast a 503 comes
   back, and how long ``GET /v1/persons`` and ``/health`` take while the models are busy.
3. Memory: the server's resident memory when idle, and its peak for one 7999 x 7999 PNG (the
   pixel limit) and for a burst of 8 of them.

tests/interfaces/test_load.py and test_hostile.py assert the correctness and bounds; this prints
the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from server_process import ServerProcess  # noqa: E402

import cli  # noqa: E402

DATA = REPO.parent / "shared" / "data"
EXAMPLES = DATA / "face_recognition" / "examples"
PEOPLE = ("obama", "biden", "kit_harington")
PROBES = {"obama": EXAMPLES / "obama-480p.jpg", "biden": EXAMPLES / "biden.jpg"}


def cli_run(*args) -> str:
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    if result.exit_code:
        raise SystemExit(f"facerec {' '.join(map(str, args))} failed: {result.output}")
    return result.stdout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


Outcome = tuple[int, float, bool]  # status, seconds, named right


async def burst(url: str, key: str, photos: dict[str, bytes], count: int) -> tuple[list[Outcome], float]:
    """``count`` identify requests at once; per request (status, seconds, named right), and the
    whole burst's seconds."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=600, limits=limits) as client:

        async def one(name: str) -> tuple[int, float, bool]:
            start = time.perf_counter()
            response = await client.post("/v1/identify", files={"image": photos[name]})
            seconds = time.perf_counter() - start
            right = response.status_code == 200 and [f["name"] for f in response.json()["faces"]] == [name]
            return response.status_code, seconds, right

        names = [name for i in range(count) for name in [list(photos)[i % len(photos)]]]
        start = time.perf_counter()
        results = await asyncio.gather(*(one(name) for name in names))
        return results, time.perf_counter() - start


def sequential_ms(server: ServerProcess, key: str, photos: dict[str, bytes], repeats: int = 20) -> float:
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) as client:
        for name in photos:
            client.post("/v1/identify", files={"image": photos[name]})  # warm
        times = []
        for i in range(repeats):
            image = photos[list(photos)[i % len(photos)]]
            start = time.perf_counter()
            client.post("/v1/identify", files={"image": image})
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def concurrent_figures(url: str, key: str, photos: dict[str, bytes], count: int, folder: Path) -> None:
    print(f"## {count} identify requests at once (each on its own connection)")
    print("workers  p50 ms  p95 ms  p99 ms  max ms  req/s  vs sequential  non-200  wrong names")
    for workers in ("1", "2"):
        server = ServerProcess(url, "--workers", workers, log=folder / f"server-{workers}.log")
        try:
            one = sequential_ms(server, key, photos)
            asyncio.run(burst(server.url, key, photos, 8))  # warm every worker
            results, seconds = asyncio.run(burst(server.url, key, photos, count))
        finally:
            server.stop()
        latencies = [s * 1000 for _, s, _ in results]
        rate = count / seconds
        bad = sum(status != 200 for status, _, _ in results)
        wrong = sum(not right for status, _, right in results if status == 200)
        print(
            f"{workers:>7}  {percentile(latencies, 50):6.0f}  {percentile(latencies, 95):6.0f}  "
            f"{percentile(latencies, 99):6.0f}  {max(latencies):6.0f}  {rate:5.1f}  "
            f"{rate / (1000 / one):13.2f}  {bad:7d}  {wrong:11d}"
        )
        print(f"         (one client, one request at a time: {one:.0f} ms, {1000 / one:.1f} req/s)")
    print()


def shedding_figures(url: str, key: str, photos: dict[str, bytes], folder: Path) -> None:
    print("## a burst of 40 against --max-pending 4")
    server = ServerProcess(url, "--max-pending", "4", log=folder / "shed.log")
    try:
        sequential_ms(server, key, photos, repeats=2)
        with ThreadPoolExecutor(1) as side:
            pending = side.submit(lambda: asyncio.run(burst(server.url, key, photos, 40)))
            time.sleep(0.5)
            with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
                light = []
                for _ in range(5):
                    start = time.perf_counter()
                    client.get("/v1/persons")
                    client.get("/health")
                    light.append((time.perf_counter() - start) / 2 * 1000)
            results, seconds = pending.result()
    finally:
        server.stop()
    shed = [s * 1000 for status, s, _ in results if status == 503]
    answered = [s * 1000 for status, s, _ in results if status == 200]
    print(f"answered 200: {len(answered)} (p50 {statistics.median(answered):.0f} ms), shed 503: {len(shed)}", end="")
    print(f" (p50 {statistics.median(shed):.0f} ms)" if shed else "")
    print(f"GET /v1/persons and /health while the models are busy: median {statistics.median(light):.1f} ms")
    print()


def memory_figures(url: str, key: str, folder: Path) -> None:
    print("## memory at the pixel limit (7999 x 7999 PNG, one colour)")
    out = io.BytesIO()
    Image.new("RGB", (7999, 7999), (120, 80, 60)).save(out, "PNG")
    bomb = out.getvalue()
    server = ServerProcess(url, "--max-pending", "3", log=folder / "memory.log")
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=600) as client:
            client.post("/v1/detect", files={"image": PROBES["obama"].read_bytes()})
            idle = server.memory()[0]
            server.reset_peak()
            start = time.perf_counter()
            client.post("/v1/detect", files={"image": bomb})
            one_seconds = time.perf_counter() - start
            one = server.memory()[1] - idle
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: client.post("/v1/detect", files={"image": bomb}), range(8)))
            statuses = [answer.status_code for answer in answers]
            peak = server.memory()[1] - idle
    finally:
        server.stop()
    print(f"upload {len(bomb) / 1024:.0f} KB; server idle RSS {idle / 2**20:.0f} MB")
    print(f"one request: {one_seconds:.2f} s, peak {one / 2**20:.0f} MB above idle")
    print(f"burst of 8: statuses {sorted(statuses)}, peak {peak / 2**20:.0f} MB above idle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'store.db'}"
        for name in PEOPLE:
            cli_run("--db", url, "enroll", name, EXAMPLES / "knn_examples" / "train" / name)
        key = cli_run("--db", url, "apikey", "create", "load", "--role", "admin").strip()
        photos = {name: path.read_bytes() for name, path in PROBES.items()}
        print(f"# facerec serve under load, 127.0.0.1, {len(PEOPLE)} people enrolled, probes 853x480 and 970x2204")
        print()
        concurrent_figures(url, key, photos, args.requests, folder)
        shedding_figures(url, key, photos, folder)
        memory_figures(url, key, folder)


if __name__ == "__main__":
    main()
