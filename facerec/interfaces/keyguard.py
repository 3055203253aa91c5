"""Guessing keys does not pay: an address that sends too many wrong keys is refused for a while.

Keys are 32 random bytes (facerec.store.api_keys), so guessing one is hopeless anyway; the lock-out
keeps a scripted guesser from costing the server a database look-up per try, and makes the
attempt visible (429s in the log). Per process and in memory: a restart forgets, which is fine.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from fastapi import HTTPException

FAILURES = 10  # wrong keys an address may send within WINDOW seconds
WINDOW = 60.0
TRACKED = 10_000  # addresses remembered at most (the oldest forgotten first)


class KeyGuard:
    def __init__(self, failures: int = FAILURES, window: float = WINDOW, clock=time.monotonic) -> None:
        self.failures, self.window, self.clock = failures, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.get(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        """429 with Retry-After while ``address`` has sent ``failures`` wrong keys in the window."""
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if len(times) >= self.failures:
                wait = max(1, math.ceil(times[0] + self.window - now))
                raise HTTPException(
                    429,
                    f"too many wrong API keys from this address: try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )

    def failed(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            times.append(now)
            self._seen[address] = times
            if len(self._seen) > TRACKED:
                del self._seen[next(iter(self._seen))]
