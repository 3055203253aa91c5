"""Attendance: frames from a camera or a door become face tracks, check-ins, visits and reports.

``tracker`` (which face is which over time), ``following`` (frames -> tracks at frame rate),
``evidence`` (a track's fused identity), ``checkins`` (Attendance: tracks + the log), ``clips``
(identify and enrol from videos), ``shots`` (cuts end tracks), ``presence`` (K/T rules, times),
``sources`` (frames from videos, cameras, streams and folders) and ``report``."""

from facerec.attendance.checkins import Attendance, AttendanceEvent
from facerec.attendance.clips import TrackAnswer, enrollment_faces, identify_video
from facerec.attendance.presence import ConfirmRule
from facerec.attendance.sources import frames

# The 0.1 spelling of enrollment_faces, kept for one release (CHANGELOG 0.2.0); gone in 0.3.
enrolment_faces = enrollment_faces

__all__ = [
    "Attendance",
    "AttendanceEvent",
    "ConfirmRule",
    "TrackAnswer",
    "enrollment_faces",
    "frames",
    "identify_video",
]
