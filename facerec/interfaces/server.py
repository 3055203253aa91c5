"""The HTTP API (FastAPI): ``facerec serve``. A thin layer over FaceRecognizer, like the CLI, and the
attendance desk's web page (``/``) over it.

- One FaceRecognizer per server process, models loaded at start-up. Model work runs one request
  at a time on a thread of its own, behind a bounded queue that answers 503 with Retry-After
  when full (facerec.interfaces.model_queue); light work (the store) runs in the thread pool, so a
  burst of identifications never holds up a key check, a list of people or /health.
- Bodies are read bounded in bytes and time and parsed in memory (facerec.interfaces.uploads):
  nothing a client sends is written to disk; large images are decoded one at a time.
- Several processes may share one PostgreSQL store: with pgvector PostgreSQL answers who is who;
  with faiss each process catches up from the store's change log on every request.
- Images arrive as multipart uploads or as base64 in JSON (both described in /openapi.json).
  Errors are JSON ``{"detail": "..."}``: 401 missing or revoked key, 403 a role that does not
  allow the request, 404 unknown, 408 a body that did not arrive in time, 409 duplicate, 413 too
  large, 415 not an image, 422 a request that cannot be done (a bad value, a body that is not
  JSON), 400 a path that is not UTF-8, 429 too many wrong keys, 503 busy
  or the store unavailable (with Retry-After), 504 a request that took too long.
- Keys have roles (facerec.store.api_keys): checkin < read < enrol < admin. Every change made
  through the API is audited with the key's name, in the change's own transaction.

This module only assembles the app: the endpoints are in facerec.interfaces.routes (one router
per resource), what they depend on in facerec.interfaces.deps, the error answers in
facerec.interfaces.error_handlers and the schema's changes in facerec.interfaces.openapi.
"""

import contextlib
import json
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

import facerec
from facerec.interfaces import events_api
from facerec.interfaces.api_docs import add_api_docs
from facerec.interfaces.deps import Services
from facerec.interfaces.error_handlers import add_error_handlers
from facerec.interfaces.http_rules import HttpRules
from facerec.interfaces.openapi import use_own_schema
from facerec.interfaces.private_answers import PrivateAnswers
from facerec.interfaces.routes import administration, attendance, desk, events, people, recognition
from facerec.interfaces.server_config import ServerConfig

__all__ = ["CONFIG_ENV", "ServerConfig", "app_from_environment", "create_app"]

CONFIG_ENV = "FACEREC_SERVER_CONFIG"
DESCRIPTION = (
    "Face detection, recognition and attendance. Send the API key as X-API-Key. Keys have roles: "
    "checkin (post check-ins, identify) < read (people, attendance) < enrol (enrol, rename, remove) "
    "< admin (settings, audit). Images: multipart files or base64 strings in JSON."
)


def app_from_environment() -> FastAPI:
    """The app ``facerec serve`` runs in each worker process (settings passed in the environment)."""
    return create_app(ServerConfig(**json.loads(os.environ.get(CONFIG_ENV) or "{}")))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Models loaded before the first request; webhooks and MQTT delivered while the app runs
    (unless the store is read-only); at the end, open kiosk sessions' tracks written."""
    services: Services = app.state.services
    await run_in_threadpool(services.warm)
    delivery = None
    if services.config.deliver and not services.recognizer.store.read_only:
        from facerec.events import deliverer

        delivery = deliverer.start(services.recognizer.store)
    yield
    await run_in_threadpool(services.kiosks.close_all)
    if delivery is not None:
        delivery[1].set()
        await run_in_threadpool(delivery[0].join, 15)
    services.close()


def create_app(config: ServerConfig = ServerConfig()) -> FastAPI:
    from facerec.runtime.settings import set_threads

    set_threads(config.threads)
    app = FastAPI(
        title="facerec",
        version=facerec.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: add_api_docs, from bundled files (FastAPI's use a CDN)
        redoc_url=None,
    )
    app.state.services = Services.open(config)
    add_api_docs(app, "facerec")
    add_error_handlers(app)
    app.add_middleware(PrivateAnswers)
    app.add_middleware(HttpRules)
    app.include_router(administration.router)
    app.include_router(desk.router)
    app.mount("/web", StaticFiles(directory=desk.WEB), name="web")
    for resource in (recognition, people, attendance, events):
        app.include_router(resource.router)
    events_api.document_webhooks(app)
    use_own_schema(app)
    return app
