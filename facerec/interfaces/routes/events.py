"""Events by cursor and webhook subscriptions: ``GET /v1/events?after=`` (catch-up: a consumer
that was down replays what it missed) and ``/v1/webhooks`` (admin keys). Their models are
facerec.interfaces.events_api's."""

from typing import Annotated

from fastapi import APIRouter, Query

from facerec.events.manage import add_webhook
from facerec.interfaces import api_models as models
from facerec.interfaces.deps import Admin, Reader, ServicesDep
from facerec.interfaces.events_api import EventPage, EventType, SubscriptionId, Webhook, WebhookCreate, WebhookCreated
from facerec.store.outbox import Outbox
from facerec.store.subscriptions import Subscriptions
from facerec.types import MAX_ID

router = APIRouter(prefix="/v1", tags=["events"])


@router.get(
    "/events", response_model=EventPage, response_model_exclude_unset=True, responses=models.errors(401, 403, 422)
)
async def events(
    _caller: Reader,
    svc: ServicesDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[EventType] | None, Query()] = None,  # noqa: A002 - the query parameter's name
) -> dict:
    """Events after the cursor ``after``, oldest first: a consumer that was down replays
    exactly what it missed (as far back as the retention), then goes on from ``last``."""
    outbox = Outbox(svc.recognizer.store)
    found = await svc.run(lambda: outbox.after(after, limit, type or []))
    return {"events": [e.to_dict() for e in found], "last": found[-1].id if found else after}


@router.get("/webhooks", response_model=list[Webhook], responses=models.errors(401, 403))
async def webhooks(_caller: Admin, svc: ServicesDep) -> list[dict]:
    """Webhook subscriptions with their state (never their secrets)."""
    subscriptions = Subscriptions(svc.recognizer.store)
    return await svc.run(lambda: [s.to_dict(subscriptions.pending(s)) for s in subscriptions.list("webhook")])


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, responses=models.errors(401, 403, 422))
async def subscribe(body: WebhookCreate, caller: Admin, svc: ServicesDep) -> dict:
    """Subscribe a URL. The answer holds the signing secret: the only time it is shown."""
    store = svc.recognizer.store
    made, secret = await svc.run(
        lambda: add_webhook(store, body.url, body.events, body.group, body.from_start), caller=caller
    )
    return made.to_dict(0) | {"secret": secret}


@router.delete("/webhooks/{subscription_id}", response_model=Webhook, responses=models.errors(401, 403, 404))
async def unsubscribe(subscription_id: SubscriptionId, caller: Admin, svc: ServicesDep) -> dict:
    subscriptions = Subscriptions(svc.recognizer.store)
    return (await svc.run(lambda: subscriptions.remove(subscription_id), caller=caller)).to_dict()


@router.post("/webhooks/{subscription_id}/retry", response_model=Webhook, responses=models.errors(401, 403, 404))
async def retry(subscription_id: SubscriptionId, caller: Admin, svc: ServicesDep) -> dict:
    """Retry now: end the back-off, and enable a webhook disabled after failing too long."""
    subscriptions = Subscriptions(svc.recognizer.store)
    return (await svc.run(lambda: subscriptions.retry_now(subscription_id), caller=caller)).to_dict()
