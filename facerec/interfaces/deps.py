"""What the endpoints depend on, as small typed FastAPI dependencies (the FastAPI template's
``api/deps.py``): the app's services, the caller behind the API key and the role a request needs,
and a place in the model queue.

The services are made once per app (``Services.open``) and kept on ``app.state``, so the routers
are plain module-level ``APIRouter``s. No ``from __future__ import annotations`` here: FastAPI
must see the dependencies' parameter types as objects."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from facerec.interfaces.key_lockout import KeyGuard
from facerec.interfaces.kiosk import KioskSessions
from facerec.interfaces.model_queue import ModelQueue
from facerec.interfaces.server_config import ServerConfig
from facerec.recognizer import FaceRecognizer
from facerec.store.api_keys import ApiKeys, allows
from facerec.store.attendance_log import AttendanceLog
from facerec.store.audit import acting


@dataclass(frozen=True)
class Caller:
    """Who sent a request: their key's name and role."""

    name: str
    role: str


@dataclass(frozen=True)
class Services:
    """What one app's endpoints share: one FaceRecognizer per server process (models loaded at
    start-up), the model queue, the wrong-key lock-out, the store's keys and attendance log, and
    the kiosks' open sessions."""

    config: ServerConfig
    recognizer: FaceRecognizer
    queue: ModelQueue
    guard: KeyGuard
    keys: ApiKeys
    log: AttendanceLog
    kiosks: KioskSessions

    @classmethod
    def open(cls, config: ServerConfig) -> "Services":
        recognizer = FaceRecognizer(
            db=config.db,
            model=config.model,
            backend=config.backend,
            threads=config.threads,
            liveness_threshold=config.liveness_threshold,
            index=config.index,
        )
        return cls(
            config=config,
            recognizer=recognizer,
            queue=ModelQueue(config.max_pending, config.request_timeout),
            guard=KeyGuard(config.key_guard),
            keys=ApiKeys(recognizer.store),
            log=AttendanceLog(recognizer.store),
            kiosks=KioskSessions(recognizer),
        )

    def warm(self) -> None:
        """Load the models once, before the first request, rather than in it."""
        self.recognizer.detector  # noqa: B018
        self.recognizer.embedder  # noqa: B018
        if self.config.require_liveness:
            self.recognizer.liveness_checker  # noqa: B018

    def close(self) -> None:
        self.queue.close()
        self.guard.close()
        self.recognizer.store.close()

    def audited(self, work: Callable[[], Any], caller: Caller | None) -> Callable[[], Any]:
        """``work``, its changes audited as ``caller``'s (in the change's own transaction)."""
        if caller is None:
            return work

        def as_caller() -> Any:
            with acting(caller.name):
                return work()

        return as_caller

    async def run(self, work: Callable[[], Any], *, caller: Caller | None = None) -> Any:
        """Light blocking work (the store, no model) in the thread pool: a key check or a list of
        people never waits behind the models."""
        return await run_in_threadpool(self.audited(work, caller))

    async def compute(self, request: Request, work: Callable[[], Any], caller: Caller | None = None) -> Any:
        """Model work: on the model thread, in turn (the request holds a place: ``Admitted``)."""
        return await self.queue.run(self.audited(work, caller), request.is_disconnected)


def services(request: Request) -> Services:
    """The services of the app answering ``request`` (set by create_app)."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(services)]

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)


def role(needed: str) -> Any:
    """A dependency: the caller, if their key is live and its role allows ``needed``."""

    async def check(request: Request, key: Annotated[str | None, Security(API_KEY)]) -> Caller:
        app = services(request)
        found = await run_in_threadpool(app.keys.valid, key) if key else None  # a valid key always gets in
        if found is None:
            if key:  # a guess (no key is none): 429 instead while its address or prefix has had too many
                await run_in_threadpool(app.guard.wrong_key, request.client.host if request.client else "?", key)
            raise HTTPException(401, "a valid X-API-Key header is needed (facerec apikey create NAME)")
        caller = Caller(*found)
        if not allows(caller.role, needed):
            raise HTTPException(
                403, f"this needs a key with the {needed!r} role (or above); {caller.name!r} is {caller.role!r}"
            )
        return caller

    return Depends(check)


Checkin = Annotated[Caller, role("checkin")]
Reader = Annotated[Caller, role("read")]
Enroller = Annotated[Caller, role("enrol")]
Admin = Annotated[Caller, role("admin")]


def refuse_duplicates_unless_admin(allow_duplicate: bool, caller: Caller) -> None:
    """Enrolling a face enrolled already as someone else (twins) is for admin keys only."""
    if allow_duplicate and not allows(caller.role, "admin"):
        raise HTTPException(403, "allow_duplicate needs a key with the 'admin' role")


async def admitted(request: Request) -> AsyncIterator[None]:
    """A dependency: a place in the model queue for the request's lifetime, or 503 if full."""
    queue = services(request).queue
    queue.admit()
    try:
        yield
    finally:
        queue.leave()


Admitted = Annotated[None, Depends(admitted)]
