"""The events' part of the HTTP API's schema: the models of ``GET /v1/events`` and of webhook
subscriptions (their endpoints are facerec.interfaces.routes.events), and the events as OpenAPI
``webhooks``. The models stay in this module: the schema names a model by its module where two
share a name (``facerec__interfaces__events_api__Event``), and clients may rely on that name."""

from typing import Annotated, Any, Literal

from fastapi import FastAPI
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from facerec.interfaces import api_models as models
from facerec.store.outbox import EVENT_TYPES
from facerec.types import MAX_ID

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
SubscriptionId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")  # later facerec versions may add fields


# The records as the rest of the API gives them (an event's data is the record's own dict).
class CheckinData(models.EventRecord, Open):
    """``checkin`` (a new attendance event) and ``checkin.updated`` (the same person seen again
    within the dedupe window: the same event_id, later last_seen)."""


class UnknownData(models.Unknown, Open):
    """``unknown``: a face no enrolled person matched, kept for review (GET /v1/unknowns)."""


class SpoofData(models.Spoof, Open):
    """``spoof``: a print or a screen held up to a camera; ``claimed``: whom it was recognised as."""


class PersonData(Open):
    """``person.enrolled`` (with ``samples``), ``person.renamed`` (with ``old_name``), ``person.removed``."""

    name: str
    person_id: int
    samples: int | None = None
    old_name: str | None = None


class Event(BaseModel):
    """One event, as a webhook's body, an MQTT message and GET /v1/events give it. ``id`` grows
    with every event: keep the last one handled and ask for those after it."""

    id: int
    type: EventType
    timestamp: str = Field(description="when the change was committed, ISO 8601, UTC")
    data: CheckinData | UnknownData | SpoofData | PersonData | dict[str, Any]


class EventPage(BaseModel):
    events: list[Event]
    last: int = Field(description="the id to pass as ?after= next time (unchanged if no events)")


class WebhookCreate(BaseModel):
    url: str = Field(
        max_length=2048,
        # In the schema only: the URL's own checks answer in a sentence (facerec.events.urls)
        json_schema_extra={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+"},
        description="http:// or https://; private hosts only where an admin allowed them",
    )
    events: list[EventType] = Field(default=[], description="the types to send; none: all")
    group: str | None = Field(default=None, max_length=255, description="only events about this group's members")
    from_start: bool = Field(default=False, description="also send every event still kept (default: from now)")


class Webhook(BaseModel):
    id: int
    kind: str
    url: str
    events: list[str]
    group: str | None
    enabled: bool = Field(description="false: disabled after failing too long; POST .../retry starts it again")
    created: str
    position: int = Field(description="the last event id delivered (or skipped as not for it)")
    pending: int | None
    attempts: int
    next_attempt: str | None
    failing_since: str | None
    last_error: str | None
    last_success: str | None
    options: dict


class WebhookCreated(Webhook):
    secret: str = Field(description="the signing secret (Standard Webhooks); it is never shown again")


def document_webhooks(app: FastAPI) -> None:
    """Each event type as an OpenAPI webhook: the POST a subscriber receives."""
    for name in EVENT_TYPES:

        async def receive(body: Event) -> None:
            """Sent with the headers webhook-id (the same on every attempt of an event),
            webhook-timestamp and webhook-signature (Standard Webhooks, HMAC-SHA256 with the
            subscription's secret). Answer 2xx once handled; otherwise it is sent again later."""

        app.webhooks.post(name, summary=f"{name} event", operation_id=f"webhook_{name.replace('.', '_')}")(receive)
