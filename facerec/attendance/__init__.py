"""Attendance: frames from a camera or a door become check-ins, visits and reports.

``checkins`` (Attendance: recognition + confirmation + the log), ``presence`` (K sightings within
T), ``sources`` (frames from videos, cameras, streams and folders) and ``report``."""

from facerec.attendance.checkins import Attendance, AttendanceEvent
from facerec.attendance.presence import ConfirmRule
from facerec.attendance.sources import frames

__all__ = ["Attendance", "AttendanceEvent", "ConfirmRule", "frames"]
