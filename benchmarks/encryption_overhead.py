"""What encryption at rest costs: enrolment, warm identify, cold start, with and without a key.

    python benchmarks/encryption_overhead.py [--samples 100000] [--repeats 3] [--skip-cold]

- AES-256-GCM itself: microseconds to seal and open one embedding and one crop;
- store enrolment: samples/s written by Archive.load (10 a person, one transaction each), the part
  sealing touches, from the median transaction;
- enrolment: photos/s of FaceRecognizer.enroll on real photos (detection and embedding included),
  from the median call;
- warm identify: p50 of FaceRecognizer.identify on a 640x480 photo over a 10k-sample gallery, and
  how many blobs it decrypted (none: the index is in memory);
- cold start over a gallery of --samples samples (10 a person), index saved beside the store:
  opening the store and loading its saved index in a fresh process (its imports excluded), the
  same with no saved index (rebuilt from SQL), and a whole `facerec identify` process.

Plain and encrypted are measured alternately, call by call (the cold start: run by run, the
median of --repeats), so a shared machine's drift falls on both alike; the target
(issue 35) is at most 10% on enrolment and warm identify, and cold start under 2 s encrypted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from samples import dumped_person  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding import space  # noqa: E402
from facerec.runtime import weights  # noqa: E402
from facerec.store import Store  # noqa: E402
from facerec.store.archive import Archive  # noqa: E402
from facerec.store.sealing import Key, Keyring  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TRAIN = DATA / "face_recognition" / "examples" / "knn_examples" / "train"
PROBE = DATA / "face_recognition" / "examples" / "obama-480p.jpg"
MODEL = weights.default_model()
CENTRE = space.centre_id(weights.load_centre(weights.model_spec(MODEL)))
KEY = Key.of(bytes(range(32)))


def gallery(samples: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    people = []
    for p in range(samples // 10):
        centre = space.unit(rng.normal(size=512))
        vectors = space.unit(centre + 0.04 * rng.normal(size=(10, 512))).astype(np.float32)
        crops = [rng.bytes(6000) for _ in vectors]  # about an aligned 160 px crop's PNG
        people.append(dumped_person(f"person{p:06d}", vectors, crops, MODEL, CENTRE))
    return people


def keyring(sealed: bool) -> Keyring:
    return Keyring(KEY) if sealed else Keyring()


def env(sealed: bool) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("FACEREC_KEY", "FACEREC_KEY_FILE")}
    return out | ({"FACEREC_KEY": KEY.secret.hex()} if sealed else {})


def alternate(measure, repeats: int) -> dict[bool, float]:
    """measure(sealed) run plain, encrypted, plain, ... ``repeats`` times each; the medians."""
    runs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for sealed in (False, True):
            runs[sealed].append(measure(sealed))
    return {sealed: statistics.median(values) for sealed, values in runs.items()}


def report(what: str, unit: str, figures: dict[bool, float], higher_is_better: bool) -> None:
    plain, sealed = figures[False], figures[True]
    cost = (plain / sealed - 1) if higher_is_better else (sealed / plain - 1)
    print(f"{what:<44} plain {plain:9.2f} {unit:<9} encrypted {sealed:9.2f} {unit:<9} cost {100 * cost:+5.1f}%")


def sealing_cost() -> None:
    """The cost of sealing itself, per blob: what every figure below adds up."""
    keys = Keyring(KEY)
    for what, size in (("embedding (2 KB)", 2048), ("crop (6 KB)", 6000)):
        data = os.urandom(size)
        start = time.perf_counter()
        for _ in range(20_000):
            blob, key_id = keys.seal(data, "face_sample.crop")
        sealed = (time.perf_counter() - start) / 20_000
        start = time.perf_counter()
        for _ in range(20_000):
            keys.open(blob, key_id, "face_sample.crop")
        opened = (time.perf_counter() - start) / 20_000
        print(f"AES-256-GCM per {what:<34} seal {1e6 * sealed:6.1f} us   open {1e6 * opened:6.1f} us")


def store_enrollment(folder: Path, repeats: int) -> None:
    people = gallery(2000 * repeats, seed=1)
    stores = {
        sealed: Store(f"sqlite:///{folder}/enrol-{sealed}.db", keyring=keyring(sealed)) for sealed in (False, True)
    }
    archives = {sealed: Archive(store) for sealed, store in stores.items()}
    spent: dict[bool, list[float]] = {False: [], True: []}
    for n in range(200 * repeats):  # person by person, plain then encrypted: drift falls on both alike
        for sealed in (False, True):
            start = time.perf_counter()
            archives[sealed].load([people[n]])  # one transaction a person, as enrolment does
            spent[sealed].append(time.perf_counter() - start)
    for store in stores.values():
        store.close()
    # The median call: a shared machine's spikes (another process's work) say nothing of sealing.
    rates = {sealed: 10 / statistics.median(seconds) for sealed, seconds in spent.items()}
    report("store enrolment (10 samples a person)", "samples/s", rates, True)


def photo_enrollment(folder: Path, repeats: int) -> None:
    photos = sorted(p for d in TRAIN.iterdir() for p in d.iterdir())
    recognizers = {}
    for sealed in (False, True):
        recognizer = FaceRecognizer(db=f"sqlite:///{folder}/photos-{sealed}.db", threads=2)
        recognizer._store = Store(recognizer.db_url, keyring=keyring(sealed))
        recognizer.enroll("warm", photos[:1])
        recognizers[sealed] = recognizer
    spent: dict[bool, list[float]] = {False: [], True: []}
    for n in range(repeats * len(photos)):  # photo by photo, plain then encrypted
        for sealed in (False, True):
            start = time.perf_counter()
            recognizers[sealed].enroll(f"p{n}", [photos[n % len(photos)]], allow_duplicate=True)
            spent[sealed].append(time.perf_counter() - start)
    rates = {sealed: 1 / statistics.median(seconds) for sealed, seconds in spent.items()}
    report("enrolment of real photos (one a call)", "photos/s", rates, True)


def build(folder: Path, samples: int, sealed: bool) -> str:
    url = f"sqlite:///{folder / ('sealed' if sealed else 'plain')}-{samples}.db"
    store = Store(url, keyring=keyring(sealed))
    people = gallery(samples)
    archive = Archive(store)
    for start in range(0, len(people), 1000):
        archive.load(people[start : start + 1000])
    store.close()
    return url


class CountingKeyring(Keyring):
    """The key, counting how many blobs are opened (a warm identify should open none)."""

    opened = 0

    def open(self, blob: bytes, key_id: str | None, what: str) -> bytes:
        CountingKeyring.opened += 1
        return super().open(blob, key_id, what)


def warm_identify(urls: dict[bool, str], repeats: int) -> None:
    recognizers = {}
    for sealed, url in urls.items():
        recognizer = FaceRecognizer(db=url, threads=2)
        recognizer._store = Store(url, keyring=CountingKeyring(KEY) if sealed else Keyring())
        recognizer.identify(PROBE)
        recognizers[sealed] = recognizer
    CountingKeyring.opened = 0
    # Call by call, plain then encrypted: a shared machine's drift falls on both alike.
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(10 * repeats):
        for sealed in (False, True):
            start = time.perf_counter()
            recognizers[sealed].identify(PROBE)
            times[sealed].append(1000 * (time.perf_counter() - start))
    medians = {sealed: statistics.median(values) for sealed, values in times.items()}
    report("warm identify, 640x480, 10k samples", "ms", medians, False)
    print(f"blobs decrypted by {10 * repeats} warm identifies: {CountingKeyring.opened}")


COLD = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [sys.argv[1]]
    from facerec.identity.index import PersonIndex, index_stem
    from facerec.store import Store
    start = time.perf_counter()
    store = Store(sys.argv[2])
    stem = index_stem(store, sys.argv[3] + "-" + sys.argv[4])
    if sys.argv[5] == "rebuild":
        for suffix in (".json", ".faiss"):
            stem.with_name(stem.name + suffix).unlink(missing_ok=True)
    index = PersonIndex(store, sys.argv[3], sys.argv[4], stem).current()
    assert len(index) and (sys.argv[5] == "rebuild" or index.rebuilds == 0)
    print(time.perf_counter() - start)
    """
)


def cold_start(urls: dict[bool, str], samples: int, repeats: int) -> None:
    for sealed, url in urls.items():  # the saved index, as the first identify leaves it
        subprocess.run(
            [sys.executable, "-c", COLD, str(REPO), url, MODEL, CENTRE, "rebuild"],
            env=env(sealed),
            check=True,
            capture_output=True,
        )
    for mode in ("saved", "rebuild"):

        def measure(sealed: bool, mode=mode) -> float:
            command = [sys.executable, "-c", COLD, str(REPO), urls[sealed], MODEL, CENTRE, mode]
            return float(subprocess.run(command, env=env(sealed), check=True, capture_output=True, text=True).stdout)

        what = "saved index loaded" if mode == "saved" else "no saved index: rebuilt from SQL"
        report(f"cold store + index, {samples // 1000}k samples, {what}", "s", alternate(measure, repeats), False)

    def whole(sealed: bool) -> float:
        start = time.perf_counter()
        command = [sys.executable, str(REPO / "cli.py"), "--db", urls[sealed], "identify", str(PROBE), "--threads", "2"]
        subprocess.run(command, env=env(sealed), check=True, capture_output=True)
        return time.perf_counter() - start

    report(f"cold `facerec identify` process, {samples // 1000}k", "s", alternate(whole, repeats), False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--skip-cold", action="store_true", help="Leave out the cold start (its gallery takes minutes)."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sealing_cost()
        store_enrollment(folder, args.repeats)
        photo_enrollment(folder, args.repeats)
        small = {sealed: build(folder, 10_000, sealed) for sealed in (False, True)}
        warm_identify(small, args.repeats)
        if not args.skip_cold:
            large = {sealed: build(folder, args.samples, sealed) for sealed in (False, True)}
            cold_start(large, args.samples, args.repeats)


if __name__ == "__main__":
    main()
