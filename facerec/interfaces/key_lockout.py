"""Guessing keys does not pay, and a guesser locks no one out: wrong keys are counted per address
and per key prefix, and past the limit further wrong keys are refused (429) for a while; a valid
key is always accepted (the caller checks it first).

Keys are 32 random bytes (facerec.store.api_keys), so guessing one is hopeless anyway; the
lock-out makes the attempt visible (429s in the log) and slows a scripted guesser. Counting per
address catches one client trying many keys; per key prefix (the key's first PREFIX_CHARS
characters) catches many addresses working on one key whose start has leaked. A right key is
never refused: a lock-out by address would let anyone there lock everyone there out.

The counters live in a small SQLite file that every worker process of one ``facerec serve``
shares (``serve`` makes it in a private temporary folder and removes it on exit), so
``--workers 4`` does not allow four times the guesses; without a file (an app made in-process),
in memory. The address is the TCP peer's unless ``serve --forwarded-allow-ips`` names proxies
whose X-Forwarded-For is trusted (uvicorn then puts the client's address there).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import HTTPException

FAILURES = 10  # wrong keys an address (or a key prefix) may send within WINDOW seconds
WINDOW = 60.0
PREFIX_CHARS = 12  # "frk_" and 8 characters of the key: 48 bits, shared by no two keys in practice


class KeyGuard:
    def __init__(
        self,
        path: str | Path | None = None,
        failures: int = FAILURES,
        window: float = WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.failures, self.window, self.clock = failures, window, clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", timeout=30, isolation_level=None, check_same_thread=False
        )
        if path:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS failures (subject TEXT NOT NULL, at REAL NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS failures_subject ON failures (subject, at)")
        self._db.execute("CREATE INDEX IF NOT EXISTS failures_at ON failures (at)")

    @staticmethod
    def subjects(address: str, key: str | None) -> list[str]:
        """What a wrong key counts against: its address, and its prefix if it has one."""
        return [f"address {address}"] + ([f"key {key[:PREFIX_CHARS]}"] if key else [])

    def wrong_key(self, address: str, key: str | None) -> None:
        """Count a wrong (missing, unknown or revoked) key from ``address``; HTTPException 429 with
        Retry-After instead while its address or its prefix has had ``failures`` in the window
        (not counted then: the lock-out ends a window after the failures that caused it)."""
        subjects = self.subjects(address, key)
        with self._lock:
            now = self.clock()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM failures WHERE at <= ?", (now - self.window,))
                wait = 0.0
                for subject in subjects:
                    count, first = self._db.execute(
                        "SELECT COUNT(*), MIN(at) FROM failures WHERE subject = ?", (subject,)
                    ).fetchone()
                    if count >= self.failures:
                        wait = max(wait, first + self.window - now)
                if not wait:
                    self._db.executemany("INSERT INTO failures VALUES (?, ?)", [(s, now) for s in subjects])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if wait:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(
                429,
                f"too many wrong API keys from this address or for this key: try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
