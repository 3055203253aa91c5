"""Errors a user can cause. Each carries one message that says what went wrong and with what.

The CLI maps them to a non-zero exit code, the HTTP API to a 4xx status; nothing else needs to
catch them.
"""

from __future__ import annotations


class FacerecError(Exception):
    """Base class: every error facerec raises on purpose."""


class ImageError(FacerecError):
    """An input could not be turned into an RGB image (missing, unreadable, not an image, too big)."""


class WeightsError(FacerecError):
    """A model file is missing, corrupt (wrong sha256) or could not be fetched."""


class DeviceError(FacerecError):
    """The requested compute device is not available."""


class NoFaceError(FacerecError):
    """An image holds no face where one was needed."""


class MultipleFacesError(FacerecError):
    """An image holds several faces where exactly one was needed."""


class StoreError(FacerecError):
    """The identity store cannot do what was asked (bad name, unknown person, duplicate, mixed models)."""


class StoreUnavailableError(StoreError):
    """The store cannot do it now, through no fault of the request: its files are read-only, its
    disk is full, or its database server is down. Worth retrying later (HTTP 503)."""


class UnknownPersonError(StoreError):
    """No person of that name (or sample of that id) is enrolled."""


class DuplicateNameError(StoreError):
    """A person of that name exists already."""


class DuplicateIdentityError(StoreError):
    """A face to enrol would be identified as someone else enrolled (HTTP 409): the same person
    under another name, refused unless allowed (twins)."""


class EncryptionKeyError(StoreError):
    """The encryption key is missing, malformed, or not the one the store's data was sealed with."""


class ConsentRequiredError(StoreError):
    """The store requires a consent record before it keeps a person's biometric data."""
