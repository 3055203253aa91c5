"""The HTTP API's events: ``GET /v1/events?after=`` (catch-up by cursor), webhook subscriptions
(admin keys), and the events' schema as OpenAPI ``webhooks``. Mounted by create_app.

No ``from __future__ import annotations`` here: FastAPI must see the key-checking dependencies,
local to router(), as objects rather than names."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from facerec.events.manage import add_webhook
from facerec.interfaces import api_models as models
from facerec.store.outbox import EVENT_TYPES, Outbox
from facerec.store.repository import Store
from facerec.store.subscriptions import Subscriptions
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


Run = Callable[..., Awaitable[Any]]


def router(store: Store, role: Callable[[str], Any], run: Run) -> APIRouter:
    """The endpoints over ``store``; ``role(name)`` is the key-checking dependency, ``run`` runs
    store work off the event loop (audited as the caller's)."""
    api = APIRouter(prefix="/v1", tags=["events"])
    Reader = Annotated[Any, role("read")]
    Admin = Annotated[Any, role("admin")]
    outbox, subscriptions = Outbox(store), Subscriptions(store)

    @api.get(
        "/events", response_model=EventPage, response_model_exclude_unset=True, responses=models.errors(401, 403, 422)
    )
    async def events(
        _caller: Reader,
        after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        type: Annotated[list[EventType] | None, Query()] = None,  # noqa: A002 - the query parameter's name
    ) -> dict:
        """Events after the cursor ``after``, oldest first: a consumer that was down replays
        exactly what it missed (as far back as the retention), then goes on from ``last``."""
        found = await run(lambda: outbox.after(after, limit, type or []))
        return {"events": [e.to_dict() for e in found], "last": found[-1].id if found else after}

    def _listed() -> list[dict]:
        return [s.to_dict(subscriptions.pending(s)) for s in subscriptions.list("webhook")]

    @api.get("/webhooks", response_model=list[Webhook], responses=models.errors(401, 403))
    async def webhooks(_caller: Admin) -> list[dict]:
        """Webhook subscriptions with their state (never their secrets)."""
        return await run(_listed)

    @api.post("/webhooks", status_code=201, response_model=WebhookCreated, responses=models.errors(401, 403, 422))
    async def subscribe(body: WebhookCreate, caller: Admin) -> dict:
        """Subscribe a URL. The answer holds the signing secret: the only time it is shown."""
        made, secret = await run(
            lambda: add_webhook(store, body.url, body.events, body.group, body.from_start), caller=caller
        )
        return made.to_dict(0) | {"secret": secret}

    @api.delete("/webhooks/{subscription_id}", response_model=Webhook, responses=models.errors(401, 403, 404))
    async def unsubscribe(subscription_id: SubscriptionId, caller: Admin) -> dict:
        return (await run(lambda: subscriptions.remove(subscription_id), caller=caller)).to_dict()

    @api.post("/webhooks/{subscription_id}/retry", response_model=Webhook, responses=models.errors(401, 403, 404))
    async def retry(subscription_id: SubscriptionId, caller: Admin) -> dict:
        """Retry now: end the back-off, and enable a webhook disabled after failing too long."""
        return (await run(lambda: subscriptions.retry_now(subscription_id), caller=caller)).to_dict()

    return api


def document_webhooks(app: FastAPI) -> None:
    """Each event type as an OpenAPI webhook: the POST a subscriber receives."""
    for name in EVENT_TYPES:

        async def receive(body: Event) -> None:
            """Sent with the headers webhook-id (the same on every attempt of an event),
            webhook-timestamp and webhook-signature (Standard Webhooks, HMAC-SHA256 with the
            subscription's secret). Answer 2xx once handled; otherwise it is sent again later."""

        app.webhooks.post(name, summary=f"{name} event", operation_id=f"webhook_{name.replace('.', '_')}")(receive)
