"""Kiosk sessions over HTTP: the frames one kiosk sends in a session share face tracks, so a
person standing in front of it is one decision (one check-in), not one per frame sent.

A session is named by its client (any short string; the desk makes a random one each time its
camera starts) together with the check-in point (``source``). It lives in the server's memory:
closed when idle for ``idle`` seconds (its tracks are then ended and written, as at the end of a
video) or when more than ``limit`` sessions are open (the longest idle is closed first). A
restart of the server ends every session: the kiosk's next frame starts a new one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from facerec.attendance.checkins import Attendance, AttendanceEvent
from facerec.attendance.following import FollowConfig
from facerec.attendance.presence import ConfirmRule
from facerec.recognizer import FaceRecognizer

# A kiosk sends about a frame a second: two faces of a track within three seconds decide it, and
# every frame gets a whole detection (following a face a second apart would lose it).
SESSION_RULE = ConfirmRule(2, timedelta(seconds=3))
SESSION_FOLLOW = FollowConfig(detect_every=1, first_faces=2)


@dataclass
class _Session:
    attendance: Attendance
    used: float


class KioskSessions:
    """Open kiosk sessions, each an :class:`Attendance` of its own (thread-safe)."""

    def __init__(self, recognizer: FaceRecognizer, idle: float = 30.0, limit: int = 64) -> None:
        self.recognizer = recognizer
        self.idle = idle
        self.limit = limit
        self._open: dict[tuple[str, str], _Session] = {}
        self._lock = threading.Lock()

    def process(
        self, session: str, source: str, make: Callable[[ConfirmRule, FollowConfig], Attendance], pixels, moment
    ) -> list[AttendanceEvent]:
        """One frame of a session (opened by ``make`` if new): the events it caused, and those of
        sessions closed meanwhile are written (not answered: their kiosks have moved on)."""
        key = (source, session)
        with self._lock:
            self._close_idle(time.monotonic())
            held = self._open.get(key)
            if held is None:
                while len(self._open) >= self.limit:
                    oldest = min(self._open, key=lambda k: self._open[k].used)
                    self._open.pop(oldest).attendance.finish()
                held = self._open[key] = _Session(make(SESSION_RULE, SESSION_FOLLOW), time.monotonic())
            held.used = time.monotonic()
            return held.attendance.process(pixels, moment)

    def close_all(self) -> None:
        with self._lock:
            for held in self._open.values():
                held.attendance.finish()
            self._open.clear()

    def __len__(self) -> int:
        return len(self._open)

    def _close_idle(self, now: float) -> None:
        for key in [k for k, held in self._open.items() if now - held.used > self.idle]:
            self._open.pop(key).attendance.finish()
