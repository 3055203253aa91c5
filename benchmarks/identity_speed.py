"""Identity store speed: enrolment, identification (warm and cold), memory, and search at scale.

    python benchmarks/identity_speed.py [--sizes 10000,100000,1000000]

- enrol: photos/s at 640x480 with one face, default settings (real photos, resized).
- identify: per 640x480 photo with two faces and a 10k-sample gallery, default settings, warm (same
  process; also for a photo with one face, and searching from 20 px faces instead of the default 40)
  and cold (a new ``facerec identify`` process), and the cold process's peak RSS.
- search: p50 latency of one probe at each gallery size, exact (Flat) and approximate (HNSW, IVF),
  with recall@1 of the approximate index against exact search. The gallery is clustered like
  real people (10 samples per person around a centre, same-person cosine about 0.7) and probes
  are new noisy samples.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec import FaceRecognizer, matching, weights  # noqa: E402
from facerec.index import IVF_PROBES, IVF_TRAINING_PER_LIST, ivf_lists  # noqa: E402
from facerec.mtcnn import DetectorConfig  # noqa: E402
from facerec.store import Store, StoredSample  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
# The synthetic gallery's vectors stand for the default model's centred vectors: the same kind.
CENTRE = matching.centre_id(weights.load_centre(weights.model_spec(weights.default_model())))


def clustered(people: int, per_person: int, dim: int = 512, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = 0.04  # per component: same-person cosine about 0.7 after normalising
    samples = np.repeat(centres, per_person, axis=0) + noise * rng.normal(size=(people * per_person, dim))
    samples = (samples / np.linalg.norm(samples, axis=1, keepdims=True)).astype(np.float32)
    return centres, samples, rng


def enrol_speed(tmp: Path) -> float:
    photos = sorted((DATA / "lfw_train").glob("*/*_0001.jpg"))[:80]  # ~4 s: this VM drifts +-20%
    frames = []
    for i, photo in enumerate(photos):
        image = Image.open(photo).convert("RGB").resize((640, 480))
        path = tmp / f"p{i:03d}.jpg"
        image.save(path, quality=95)
        frames.append(path)
    recognizer = FaceRecognizer(db=f"sqlite:///{tmp / 'enrol.db'}")
    recognizer.enroll("warm-up", frames[:1], largest=True)
    start = time.perf_counter()
    for i in range(0, len(frames), 10):
        recognizer.enroll(f"person{i}", frames[i : i + 10], largest=True)
    return len(frames) / (time.perf_counter() - start)


def gallery_store(tmp: Path, size: int) -> str:
    url = f"sqlite:///{tmp / 'gallery.db'}"
    store = Store(url)
    _, samples, _ = clustered(size // 10, 10)
    crop = io.BytesIO()
    Image.new("RGB", (160, 160)).save(crop, "PNG")
    people = []
    for p in range(size // 10):
        rows = []
        for s in range(10):
            i = p * 10 + s
            rows.append(
                dict(
                    StoredSample(
                        samples[i],
                        "casia-webface",
                        CENTRE,
                        {},
                        crop.getvalue(),
                        f"/g/{i}.jpg",
                        f"{i:064x}",
                        (0, 0, 1, 1),
                        ((0, 0),) * 5,
                        1.0,
                        {},
                    ).__dict__
                )
            )
        people.append({"name": f"person{p:06d}", "samples": rows})
    store.load(people)
    return url


# Runs a script and prints its own peak resident memory at exit. getrusage(RUSAGE_CHILDREN) would
# not do: Linux carries the parent's peak into a child across fork + exec, so a child of this
# (large) benchmark process would report the benchmark's memory, not its own.
PEAK_REPORTER = (
    "import atexit, runpy, sys\n"
    "def report():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM'):\n"
    "            print(line.strip(), file=sys.stderr)\n"
    "atexit.register(report)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def warm_ms(cases: dict[object, tuple[FaceRecognizer, Path]], rounds: int = 15) -> dict[object, float]:
    """Median ms per call of each case in the steady state. The first calls on a new photo size
    are slower (ONNX Runtime plans and grows its buffers per input shape), so three go unmeasured;
    the cases then take turns, call by call, so that this VM's drifts in speed (10-20% within
    seconds) fall on all of them alike."""
    for recognizer, photo in cases.values():
        for _ in range(3):
            recognizer.identify(photo)
    times: dict[object, list[float]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case, (recognizer, photo) in cases.items():
            start = time.perf_counter()
            recognizer.identify(photo)
            times[case].append(time.perf_counter() - start)
    return {case: statistics.median(t) * 1000 for case, t in times.items()}


def identify_speed(tmp: Path, size: int) -> tuple[dict[int, float], float, float]:
    """Warm ms per photo by number of faces (and for two searched from 20 px faces), cold seconds
    and peak MB of a new process (2 faces)."""
    url = gallery_store(tmp, size)
    photo, single = tmp / "probe.jpg", tmp / "single.jpg"  # two faces / one face, 640x480
    Image.open(DATA / "face_recognition/examples/two_people.jpg").convert("RGB").resize((640, 480)).save(photo)
    Image.open(DATA / "face_recognition/examples/obama.jpg").convert("RGB").resize((640, 480)).save(single)
    recognizer = FaceRecognizer(db=url)
    # 20: `identify --min-face-size 20`, MTCNN's own smallest face (the default is enrolment's 40)
    from_20px = FaceRecognizer(db=url, detector=DetectorConfig(min_face_size=20))
    warm = warm_ms({2: (recognizer, photo), 1: (recognizer, single), 20: (from_20px, photo)})
    colds, peaks = [], []
    for _ in range(3):
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", PEAK_REPORTER, str(REPO / "cli.py"), "--db", url, "identify", str(photo)],
            capture_output=True,
            cwd=tmp,
            env=os.environ | {"PYTHONPATH": str(REPO)},  # this checkout's facerec, even if another is installed
            text=True,
        )
        colds.append(time.perf_counter() - start)
        assert child.returncode == 0, child.stderr
        peaks.append(int(child.stderr.rsplit("VmHWM:", 1)[1].split()[0]) / 1024)  # kB
    rss_mb = max(peaks)
    return warm, statistics.median(colds), rss_mb


def search_speed(size: int, probes: int = 200, hnsw: bool = True) -> dict[str, float]:
    """p50 ms per probe for exact, HNSW and IVF search, their build seconds and recall@1 (person)."""
    centres, samples, rng = clustered(size // 10, 10)
    queries = centres[rng.integers(0, len(centres), probes)] + 0.04 * rng.normal(size=(probes, samples.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    dim = samples.shape[1]

    def p50(index) -> tuple[float, np.ndarray]:
        times, found = [], []
        for q in queries:
            start = time.perf_counter()
            _, ids = index.search(q[None], 1)
            times.append(time.perf_counter() - start)
            found.append(ids[0, 0])
        return statistics.median(times) * 1000, np.array(found)

    out: dict[str, float] = {}
    exact = faiss.IndexFlatIP(dim)
    exact.add(samples)
    out["exact_ms"], truth = p50(exact)
    del exact
    candidates = {}
    if hnsw:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)  # the alternative we measured
        index.hnsw.efSearch = 128
        candidates["hnsw"] = index
    lists = ivf_lists(size)  # what facerec.index builds above APPROXIMATE_ABOVE
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    ivf.nprobe = IVF_PROBES
    candidates["ivf"] = ivf
    for name, index in candidates.items():
        start = time.perf_counter()
        if not index.is_trained:
            chosen = rng.choice(len(samples), min(len(samples), IVF_TRAINING_PER_LIST * lists), replace=False)
            index.train(samples[chosen])
        index.add(samples)
        out[f"{name}_build_s"] = time.perf_counter() - start
        out[f"{name}_ms"], approx = p50(index)
        out[f"{name}_recall"] = float(np.mean(truth // 10 == approx // 10))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--no-hnsw", action="store_true", help="Skip HNSW (its 1M build takes most of an hour).")
    parser.add_argument("--search-only", action="store_true", help="Skip enrolment and identification.")
    args = parser.parse_args()
    faiss.omp_set_num_threads(2)
    if not args.search_only:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            print(f"enrol: {enrol_speed(tmp):.1f} photos/s (640x480, one face each)")
            warm, cold, rss = identify_speed(tmp, 10_000)
            print(
                f"identify, 10k-sample gallery: warm {warm[2]:.0f} ms (two faces; one face {warm[1]:.0f} ms;"
                f" two faces with --min-face-size 20: {warm[20]:.0f} ms),"
                f" cold {cold:.2f} s, peak RSS {rss:.0f} MB"
            )
    for size in (int(s) for s in args.sizes.split(",")):
        r = search_speed(size, hnsw=not args.no_hnsw)
        line = f"search {size:>9,}: exact {r['exact_ms']:7.2f} ms p50"
        for name in ("hnsw", "ivf"):
            if f"{name}_ms" in r:
                line += (
                    f"; {name.upper()} {r[f'{name}_ms']:6.2f} ms p50, recall@1 (person) {r[f'{name}_recall']:.3f},"
                    f" built in {r[f'{name}_build_s']:.0f} s"
                )
        print(line, flush=True)


if __name__ == "__main__":
    main()
