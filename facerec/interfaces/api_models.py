"""What the HTTP API takes and gives, as pydantic models: the source of /openapi.json, so /docs can
send a photo, clients can be generated, and schemathesis can hold the server to its word.

Images come as multipart uploads (files) or as base64 strings in JSON: both are described as the
request body of every endpoint that takes images (:func:`image_body`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from facerec.interfaces.http_rules import Name

# Request bodies take what their schema says, not what pydantic can coerce ("5" for 5, 0 for false).
STRICT = ConfigDict(strict=True)


class Error(BaseModel):
    """Every error: a sentence saying what went wrong and, where it helps, what to do."""

    detail: str


class Keypoints(BaseModel):
    left_eye: list[float]
    right_eye: list[float]
    nose: list[float]
    mouth_left: list[float]
    mouth_right: list[float]


class DetectedFace(BaseModel):
    box: list[float] = Field(description="[x, y, width, height] in pixels")
    confidence: float
    keypoints: Keypoints


class Detected(BaseModel):
    faces: list[DetectedFace]


class Candidate(BaseModel):
    name: str
    similarity: float


class IdentifiedFace(BaseModel):
    box: list[float] = Field(description="[x, y, width, height] in pixels")
    confidence: float
    name: str | None = Field(description="null: unknown (no one enrolled is similar enough)")
    similarity: float = Field(description="cosine similarity to the best candidate")
    threshold: float = Field(description="the similarity a face needed to be named")
    margin: float | None = Field(description="best candidate's similarity minus the second's; null with one")
    candidates: list[Candidate]
    live: bool | None = Field(None, description="with liveness=true: a live face, not a print or a screen")
    score: float | None = Field(None, description="with liveness=true: the mean real-face probability")


class Identified(BaseModel):
    faces: list[IdentifiedFace]


class LiveFace(BaseModel):
    box: list[float]
    confidence: float
    live: bool
    score: float


class Liveness(BaseModel):
    faces: list[LiveFace]


class Verification(BaseModel):
    same: bool
    similarity: float
    threshold: float
    model: str
    faces: list[DetectedFace]


class Skipped(BaseModel):
    file: str
    reason: str


class EnrollReport(BaseModel):
    name: str
    added: list[str]
    skipped: list[Skipped]
    samples: int


class Person(BaseModel):
    name: str
    samples: int
    created: str
    updated: str
    last_seen: str | None = Field(None, description="latest check-in anywhere, ISO 8601")
    groups: list[str] = []


class Sample(BaseModel):
    id: int
    file: str
    model: str
    confidence: float
    quality: dict[str, float]


class PersonDetail(BaseModel):
    name: str
    created: str
    updated: str
    last_seen: str | None = None
    groups: list[str] = []
    samples: list[Sample]


class Removed(BaseModel):
    removed: str
    samples: int
    receipt: dict[str, int | list[str]] = Field(
        description="what was erased: rows, crops, centroids, pgvector vectors, snapshots, index files rewritten"
    )


class ConsentGiven(BaseModel):
    model_config = STRICT

    # Text under the names' rule (facerec.interfaces.http_rules): no control characters, NFC, bounded
    purpose: Name = Field(description="what the face is used for")
    policy_version: Name = Field(description="the notice the person agreed to")


class Consent(BaseModel):
    subject: str
    purpose: str
    policy_version: str
    given: str
    recorded_by: str = Field(description="the API key's name (local: the command line)")
    withdrawn: str | None
    withdrawn_by: str | None


class Withdrawn(BaseModel):
    withdrawn: str
    receipt: dict[str, int | list[str]] = Field(description="what was erased (see Removed)")


class Privacy(BaseModel):
    require_consent: bool = Field(description="enrolment needs a consent record")
    keep_photos: bool = Field(description="aligned face crops are kept beside the templates")
    template_retention_days: float | None = Field(description="templates erased this long after last seen; null: kept")


class PrivacyChange(BaseModel):
    model_config = STRICT

    require_consent: bool | None = None
    keep_photos: bool | None = None
    template_retention_days: float | None = Field(None, ge=0, le=36500, description="0: kept until removed")


class SampleRemoved(BaseModel):
    removed: int
    person: str


class Rename(BaseModel):
    model_config = STRICT
    name: Name


class Event(BaseModel):
    event: str = Field(description="check_in, update, unknown or spoof")
    name: str | None
    person_id: int | None
    source: str
    time: str
    similarity: float
    event_id: int
    box: list[float] | None = Field(description="the face in the image: [x, y, width, height]")
    track: int | None = Field(None, description="the face track that caused it (per source, or per kiosk session)")
    first_seen: str | None = Field(None, description="the track's first frame (ISO 8601)")
    frames: int = Field(0, description="the track's frames so far")


class CheckinResult(BaseModel):
    events: list[Event]


class PresentRow(BaseModel):
    name: str
    source: str
    first_seen: str
    last_seen: str
    sightings: int
    best_similarity: float


class EventRecord(BaseModel):
    event_id: int
    name: str
    person_id: int
    source: str
    first_seen: str
    last_seen: str
    sightings: int
    best_similarity: float


class Spoof(BaseModel):
    event: str
    spoof_id: int
    source: str
    first_seen: str
    last_seen: str
    sightings: int
    claimed: str | None
    similarity: float
    liveness_score: float


class Attendance(BaseModel):
    from_: str = Field(alias="from")
    to: str
    present: list[PresentRow]
    absent: list[str]
    spoofs: list[Spoof]
    events: list[EventRecord]
    group: str | None = None

    model_config = {"populate_by_name": True}


class Unknown(BaseModel):
    id: int
    source: str
    first_seen: str
    last_seen: str
    sightings: int
    best_similarity: float
    cluster: int | None = Field(None, description="with clusters=true: the unknown person it is (1, 2, ...)")


class Assigned(BaseModel):
    name: str
    sightings: list[int]
    samples: int


def _integral(value: Any) -> Any:
    """A JSON number that is a whole number (5.0) is an integer, as JSON Schema says; not "5"."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class AssignBody(BaseModel):
    model_config = STRICT
    name: Name = Field(description="who it is (enrolled if new)")
    sightings: list[Annotated[int, Field(ge=1, le=2**53), BeforeValidator(_integral)]] = Field(  # exact in JSON
        min_length=1, max_length=1000, description="sighting ids (a cluster's)"
    )
    allow_duplicate: bool = Field(False, description="enrol a face identified as someone else (twins); admin keys only")


class Groups(BaseModel):
    groups: dict[str, list[str]]


class GroupChange(BaseModel):
    model_config = STRICT
    add: list[Name] = []
    remove: list[Name] = []


class Members(BaseModel):
    group: str
    members: list[str]


class Settings(BaseModel):
    dedupe_seconds: float = Field(description="seen again within this, a person updates the same event")
    retention_days: float | None = Field(description="attendance older than this is purged; null: kept")
    liveness: bool = Field(description="check-ins need a live face by default")
    threshold: float | None = Field(description="the identification threshold set here; null: the model's")


class SettingsChange(BaseModel):
    model_config = STRICT
    dedupe_seconds: float | None = Field(None, gt=0, le=365 * 86400)
    retention_days: float | None = Field(None, ge=0, le=36500, description="0: keep until purged")
    liveness: bool | None = None
    threshold: float | None = Field(
        None, ge=-1, le=1, description="a cosine similarity in [-1, 1]; clear_threshold goes back to the model's"
    )
    clear_threshold: bool = False


class AuditEntry(BaseModel):
    at: str
    key: str
    action: str
    target: str
    details: dict[str, Any]


class Me(BaseModel):
    name: str
    role: str
    allows: list[str] = Field(description="the roles whose rights this key has")


class ModelQueue(BaseModel):
    pending: int = Field(description="requests waiting for the models now")
    max_pending: int
    done: int
    shed: int = Field(description="answered 503: the queue was full or the wait too long")
    abandoned: int = Field(description="dropped before computing: their clients had gone")
    timed_out: int = Field(description="answered 504: the work took too long")


class Health(BaseModel):
    status: str
    model_queue: ModelQueue


class Version(BaseModel):
    version: str
    model: str
    index: str


# --- request bodies that carry images -------------------------------------------------------------


def image_body(
    images: dict[str, str], fields: dict[str, dict] | None = None, many: str | None = None, required: tuple = ()
) -> dict:
    """The OpenAPI requestBody of an endpoint that takes images, as multipart files or base64 JSON.

    ``images``: field name -> description; ``fields``: other form fields (name -> JSON schema);
    ``many``: the one image field that may be repeated (enrolment); ``required``: fields of
    ``fields`` that must be sent."""
    fields = fields or {}
    multipart: dict[str, Any] = {}
    json_props: dict[str, Any] = {}
    for name, description in images.items():
        file = {"type": "string", "format": "binary", "description": description}
        text = {"type": "string", "description": f"{description}, base64 (a data: URL is fine)"}
        multipart[name] = {"type": "array", "items": file, "minItems": 1} if name == many else file
        json_props[name] = {"type": "array", "items": text, "minItems": 1, "maxItems": 50} if name == many else text
    multipart |= fields
    json_props |= fields
    needed = [*images, *required]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": multipart, "required": needed}},
                "application/json": {"schema": {"type": "object", "properties": json_props, "required": needed}},
            },
        }
    }


# Enrolment's 422: the report when no photo was added (each says why), or an error before any was read.
EITHER_REPORT_OR_ERROR = {
    "description": "no photo was added (the report says why, photo by photo), or the request could not be read",
    "content": {
        "application/json": {
            "schema": {"anyOf": [{"$ref": "#/components/schemas/EnrollReport"}, {"$ref": "#/components/schemas/Error"}]}
        }
    },
}


def errors(*codes: int) -> dict[int | str, dict]:
    """The error responses an endpoint documents (401 and 403 added where a key is needed)."""
    meaning = {
        400: "a malformed request",
        401: "no valid X-API-Key",
        403: "the key's role does not allow this",
        404: "no such person, sample, sighting or group",
        409: "the name is taken, or the face is enrolled as someone else",
        413: "an upload over the size limit",
        415: "not an image, or not multipart / JSON",
        422: "a request that cannot be done: no face, a bad value, an undecodable image",
        503: "busy or the store is unavailable: try again (Retry-After)",
    }
    return {code: {"model": Error, "description": meaning[code]} for code in codes}
