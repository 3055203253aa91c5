"""Admission of model work: one inference at a time, a bounded queue, and an honest "busy".

Two inferences at once on the same cores only slow each other down, so model work runs one at a
time on a thread of its own. Requests waiting for it wait in the event loop, not in threads: the
thread pool stays free for the light requests (the key check, listing people, a report), which
therefore never queue behind a burst of identifications. Beyond ``max_pending`` waiting, or after
waiting ``timeout`` seconds, a request is answered 503 with a Retry-After estimated from the
queue and the recent service time, rather than queued without bound; a request whose client has
gone away while it waited is dropped before it is computed.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException


@dataclass
class QueueFigures:
    """What the queue has done since the server started (shown by /health)."""

    pending: int = 0
    done: int = 0
    shed: int = 0  # refused with 503: the queue was full, or the wait too long
    abandoned: int = 0  # dropped before computing: the client had gone
    timed_out: int = 0  # answered 504: the work itself took too long


class ModelQueue:
    def __init__(self, max_pending: int, timeout: float) -> None:
        self.max_pending = max_pending
        self.timeout = timeout
        self.figures = QueueFigures()
        self._slot = asyncio.Semaphore(1)
        self._thread = ThreadPoolExecutor(1, "facerec-model")
        self._service = 0.1  # seconds per item, a moving average (for Retry-After)
        self._lock = threading.Lock()

    def retry_after(self) -> int:
        return max(1, math.ceil((self.figures.pending + 1) * self._service))

    def _busy(self, why: str) -> HTTPException:
        self.figures.shed += 1
        wait = self.retry_after()
        return HTTPException(503, f"{why}; try again in {wait} s", headers={"Retry-After": str(wait)})

    def admit(self) -> None:
        """Take a place in the queue, or 503 if it is full (call before reading a large body)."""
        if self.figures.pending >= self.max_pending:
            raise self._busy(f"the server is busy ({self.figures.pending} requests waiting for the models)")
        self.figures.pending += 1

    def leave(self) -> None:
        self.figures.pending -= 1

    async def run(self, work: Callable[[], Any], gone: Callable[[], Awaitable[bool]]) -> Any:
        """``work`` on the model thread once it is free (the caller has been admitted)."""
        started = time.monotonic()
        # Asking once now also has the server listen to the connection again (it stops reading
        # once a request's body is in), so a client that leaves while queued is seen below.
        if await gone():
            self.figures.abandoned += 1
            raise HTTPException(499, "the client went away before its request was computed")
        try:
            await asyncio.wait_for(self._slot.acquire(), self.timeout)
        except TimeoutError:
            raise self._busy(f"waited {self.timeout:g} s for the models") from None
        try:
            if await gone():
                self.figures.abandoned += 1
                raise HTTPException(499, "the client went away before its request was computed")
        except BaseException:
            self._slot.release()
            raise

        def timed() -> Any:
            began = time.monotonic()
            try:
                return work()
            finally:
                with self._lock:
                    self._service = 0.8 * self._service + 0.2 * (time.monotonic() - began)

        future = asyncio.get_running_loop().run_in_executor(self._thread, timed)
        future.add_done_callback(lambda _f: self._slot.release())  # not before the work is done
        remaining = max(0.0, self.timeout - (time.monotonic() - started))
        try:
            result = await asyncio.wait_for(asyncio.shield(future), remaining)
        except TimeoutError:
            self.figures.timed_out += 1
            raise HTTPException(504, f"the request took longer than {self.timeout:g} s") from None
        self.figures.done += 1
        return result

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
