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
"""

import asyncio
import base64
import binascii
import contextlib
import functools
import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import WithJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException

import facerec
from facerec import errors
from facerec.attendance import clips
from facerec.attendance import report as reports
from facerec.attendance.assign import assign_sightings
from facerec.attendance.checkins import Attendance
from facerec.attendance.clusters import unknown_people
from facerec.attendance.following import FollowConfig
from facerec.attendance.presence import ConfirmRule, check_sighting_time, parse_time
from facerec.attendance.sources import Frame
from facerec.interfaces import api_models as models
from facerec.interfaces import events_api
from facerec.interfaces.model_queue import ModelQueue
from facerec.interfaces.api_docs import add_api_docs
from facerec.interfaces.http_rules import (
    DESK_HEADERS,
    MAX_TEXT,
    TEXT_PATTERN,
    HttpRules,
    Name,
    Text,
    allowed_methods,
    text_problem,
)
from facerec.interfaces.key_lockout import KeyGuard
from facerec.interfaces.kiosk import KioskSessions
from facerec.interfaces.uploads import parse_form, read_body
from facerec.recognizer import FaceRecognizer, check_threshold
from facerec.store.api_keys import ROLES, ApiKeys, allows
from facerec.store.attendance_log import AttendanceLog
from facerec.store.repository import check_name
from facerec.types import MAX_ID

CONFIG_ENV = "FACEREC_SERVER_CONFIG"
INDEX_NAMES = {"PersonIndex": "faiss", "PgVectorIndex": "pgvector"}
MAX_ENROL_IMAGES = 50
WEB = Path(__file__).resolve().parent / "web"
FEED_POLL_SECONDS = 1.0  # the live feed looks for new check-ins this often (from any process)
STORE_RETRY_SECONDS = 5  # Retry-After when the store is unreachable or read-only

# Leading bytes of the formats images.load_image decodes; anything else is "not an image" (415).
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
RecordId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
# A report's time zone: an IANA name (the schema lists them, so a client can offer them).
Zone = Annotated[Text, WithJsonSchema({"type": "string", "enum": sorted(available_timezones())})]
# Pictures of people and their data are never kept by a browser or a proxy beyond the response.
PRIVATE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PRIVATE_RAW = {name.lower().encode(): value.encode() for name, value in PRIVATE.items()}


@dataclass(frozen=True)
class ServerConfig:
    db: str | None = None
    model: str | None = None
    threads: int | None = None
    backend: str = "auto"
    max_upload_mb: float = 10.0
    # A check-in terminal that must never check in a print or a screen: every check-in checks
    # liveness, whatever the request says. False: the request's liveness=, else the store's setting.
    require_liveness: bool = False
    liveness_threshold: float | None = None
    index: str = "auto"
    # Back-pressure (facerec.interfaces.model_queue): requests waiting for the models at most, and
    # the longest a request may wait and run before it is answered 503 / 504.
    max_pending: int = 256
    request_timeout: float = 60.0
    body_timeout: float = 30.0  # the longest a client may take to send its body (408 after)
    deliver: bool = True  # run a deliverer of webhooks and MQTT (facerec.events) in this process
    # The wrong-key counters' file, shared by the workers of one server (facerec.interfaces.key_lockout);
    # None: in this process's memory.
    key_guard: str | None = None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


@dataclass(frozen=True)
class Caller:
    """Who sent a request: their key's name and role."""

    name: str
    role: str


class PrivateAnswers:
    """Every /v1/ answer carries PRIVATE's headers. Plain ASGI rather than @app.middleware: that
    one wraps the request's receive channel, and a client that hangs up is then never seen."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def private(message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name in PRIVATE_RAW}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *PRIVATE_RAW.items()]}
            await send(message)

        await self.app(scope, receive, private)


def app_from_environment() -> FastAPI:
    """The app ``facerec serve`` runs in each worker process (settings passed in the environment)."""
    return create_app(ServerConfig(**json.loads(os.environ.get(CONFIG_ENV) or "{}")))


def _status(exc: errors.FacerecError) -> int:
    if isinstance(exc, errors.StoreUnavailableError):
        return 503
    if isinstance(exc, errors.UnknownPersonError):
        return 404
    if isinstance(exc, errors.DuplicateNameError | errors.DuplicateIdentityError):
        return 409
    return 422


def upload_label(filename: str | None, field: str, index: int, taken: Collection[str] = ()) -> str:
    """How an uploaded photo is named in the enrolment report (and kept as its sample's source):
    the client's file name without folders or control characters, else ``images[i]``; a name
    given twice in one request gets its position (``photo.jpg [2]``), so each outcome is one file's."""
    name = "".join(c for c in (filename or "").replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())[:255]
    name = name.strip() or f"{field}[{index}]"
    return f"{name} [{index}]" if name in taken else name


def api_message(exc: errors.FacerecError) -> str:
    """The library's message in the API's words: an option the shell spells --largest is the
    query parameter largest=true here."""
    return str(exc).replace("use --largest", "add largest=true")


@functools.cache
def _placeholder() -> bytes:
    """What the desk shows for a face whose photo is not kept: a grey silhouette, 160 px."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 160), (225, 225, 225))
    draw = ImageDraw.Draw(image)
    draw.ellipse((52, 28, 108, 92), fill=(180, 180, 180))
    draw.ellipse((28, 100, 132, 200), fill=(180, 180, 180))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def is_image(data: bytes) -> bool:
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def create_app(config: ServerConfig = ServerConfig()) -> FastAPI:
    from facerec.runtime.settings import set_threads

    set_threads(config.threads)
    recognizer = FaceRecognizer(
        db=config.db,
        model=config.model,
        backend=config.backend,
        threads=config.threads,
        liveness_threshold=config.liveness_threshold,
        index=config.index,
    )
    queue = ModelQueue(config.max_pending, config.request_timeout)
    guard = KeyGuard(config.key_guard)
    keys = ApiKeys(recognizer.store)
    log = AttendanceLog(recognizer.store)
    kiosks = KioskSessions(recognizer)

    def warm() -> None:
        recognizer.detector  # noqa: B018 - load the models once, before the first request
        recognizer.embedder  # noqa: B018
        if config.require_liveness:
            recognizer.liveness_checker  # noqa: B018

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await run_in_threadpool(warm)
        delivery = None
        if config.deliver and not recognizer.store.read_only:
            from facerec.events import deliverer

            delivery = deliverer.start(recognizer.store)
        yield
        await run_in_threadpool(kiosks.close_all)  # open kiosk sessions' tracks are written
        if delivery is not None:
            delivery[1].set()
            await run_in_threadpool(delivery[0].join, 15)
        queue.close()
        guard.close()
        recognizer.store.close()

    app = FastAPI(
        title="facerec",
        version=facerec.__version__,
        description=(
            "Face detection, recognition and attendance. Send the API key as X-API-Key. Keys have roles: "
            "checkin (post check-ins, identify) < read (people, attendance) < enrol (enrol, rename, remove) "
            "< admin (settings, audit). Images: multipart files or base64 strings in JSON."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: add_api_docs, from bundled files (FastAPI's use a CDN)
        redoc_url=None,
    )
    add_api_docs(app, "facerec")

    @app.exception_handler(errors.FacerecError)
    async def _facerec_error(_request: Request, exc: errors.FacerecError) -> JSONResponse:
        status = _status(exc)
        headers = PRIVATE | ({"Retry-After": str(STORE_RETRY_SECONDS)} if status == 503 else {})
        return JSONResponse({"detail": api_message(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """One sentence, like every other error (FastAPI's own is a list of objects)."""
        parts = []
        for problem in exc.errors():
            if problem.get("type") == "json_invalid":
                where = problem.get("loc", ("body", "?"))[-1]
                reason = problem.get("ctx", {}).get("error", "JSON decode error")
                return _unreadable_json(f"{reason} at character {where}")
            where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path"))
            message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's
            parts.append(f"{where}: {message}" if where else message)
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422, headers=PRIVATE)

    def _unreadable_json(reason: str) -> JSONResponse:
        return JSONResponse({"detail": f"the body is not valid JSON: {reason}"}, status_code=422, headers=PRIVATE)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's answers, but a body it cannot parse (JSON that is not UTF-8, nested too deep)
        is a 422 like any other bad body, and a 405 names every method of the path."""
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return _unreadable_json("not UTF-8, or nested too deep")
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(app.router.routes, request.scope))
            return JSONResponse(
                {"detail": f"{request.method} is not allowed here; use {allow}"}, 405, headers={"Allow": allow}
            )
        return await http_exception_handler(request, exc)

    app.add_middleware(PrivateAnswers)
    app.add_middleware(HttpRules)

    header = APIKeyHeader(name="X-API-Key", auto_error=False)

    def role(needed: str) -> Any:
        """A dependency: the caller, if their key is live and its role allows ``needed``."""

        async def check(request: Request, key: Annotated[str | None, Security(header)]) -> Caller:
            found = await run_in_threadpool(keys.valid, key) if key else None  # a valid key always gets in
            if found is None:
                if key:  # a guess (no key is none): 429 instead while its address or prefix has had too many
                    await run_in_threadpool(guard.wrong_key, request.client.host if request.client else "?", key)
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

    def audited(work: Callable[[], Any], caller: Caller | None) -> Callable[[], Any]:
        """``work``, its changes audited as ``caller``'s."""
        if caller is None:
            return work

        def as_caller() -> Any:
            with recognizer.store.acting(caller.name):
                return work()

        return as_caller

    async def run(work: Callable[[], Any], *, caller: Caller | None = None) -> Any:
        """Light blocking work (the store, no model) in the thread pool."""
        return await run_in_threadpool(audited(work, caller))

    async def compute(request: Request, work: Callable[[], Any], caller: Caller | None = None) -> Any:
        """Model work: on the model thread, in turn (the request holds a place: ``Admitted``)."""
        return await queue.run(audited(work, caller), request.is_disconnected)

    async def admitted() -> Any:
        """A dependency: a place in the model queue for the request's lifetime, or 503 if full."""
        queue.admit()
        try:
            yield
        finally:
            queue.leave()

    Admitted = Annotated[None, Depends(admitted)]

    async def uploads(request: Request, fields: tuple[str, ...], many: bool = False) -> dict[str, Any]:
        """Image bytes (checked) and other fields from a multipart form or a JSON body. With
        ``many`` (enrolment), each image field is a list of (label, bytes), labelled with its file
        name, and a file that is not an image is left for enrolment to report by that name: one bad
        file in a batch must not refuse the good ones."""
        kind = request.headers.get("content-type", "")
        if not kind.startswith(("multipart/form-data", "application/json")):
            raise HTTPException(415, "send images as multipart/form-data or base64 in application/json")
        # Each image may use the limit, plus room for the form's other fields and base64's third
        # (enrolment may carry up to MAX_ENROL_IMAGES); refused as soon as the body passes it.
        images = MAX_ENROL_IMAGES if many else len(fields)
        body = await read_body(
            request,
            images * config.max_upload_bytes * 4 // 3 + 2**20,
            config.body_timeout,
            f"upload larger than {config.max_upload_mb:g} MB per image",
        )
        values: dict[str, Any] = {}
        if kind.startswith("multipart/form-data"):
            for part in parse_form(body, kind):
                data = part.data if part.filename is not None else _utf8(part.name, part.data)
                if many and part.name in fields:
                    items = values.setdefault(part.name, [])
                    taken = {label for label, _data in items}
                    items.append((upload_label(part.filename, part.name, len(items), taken), part.data))
                elif part.name in fields:
                    values[part.name] = part.data
                else:
                    values[part.name] = data
        else:
            try:
                body = json.loads(body)
            except ValueError:
                raise HTTPException(422, "the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise HTTPException(422, "the JSON body must be an object")
            for key, value in body.items():
                if key in fields:
                    items = value if isinstance(value, list) else [value]
                    decoded = [_base64(key, item) for item in items]
                    if not many and len(decoded) != 1:
                        raise HTTPException(422, f"{key} must be one base64 string")
                    values[key] = [(f"{key}[{i}]", d) for i, d in enumerate(decoded)] if many else decoded[0]
                else:
                    values[key] = value
        for key, value in values.items():
            problem = text_problem(value) if isinstance(value, str) else None
            if problem:
                raise HTTPException(422, f"{key}: {problem}")
        for key in fields:
            if key not in values:
                raise HTTPException(422, f"missing image field {key!r}")
            if many and len(values[key]) > MAX_ENROL_IMAGES:
                raise HTTPException(413, f"at most {MAX_ENROL_IMAGES} images per request")
            for label, data in values[key] if many else [(key, values[key])]:
                if not isinstance(data, bytes):
                    raise HTTPException(422, f"field {key!r} must be a file upload")
                if len(data) > config.max_upload_bytes:
                    raise HTTPException(413, f"{label}: upload larger than {config.max_upload_mb:g} MB")
                if not many and not is_image(data):
                    raise HTTPException(415, f"{label}: not an image (JPEG, PNG, GIF, BMP, TIFF or WebP)")
        return values

    def _utf8(key: str, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(422, f"{key}: not UTF-8 text") from None

    def _base64(key: str, value: Any) -> bytes:
        if not isinstance(value, str):
            raise HTTPException(422, f"{key} must be a base64 string")
        try:
            return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, f"{key} is not valid base64") from None

    def _time(value: Any, what: str = "time") -> datetime:
        """Now when not given; without an offset, UTC. A bad value is a FacerecError: 422."""
        return datetime.now(UTC) if value in (None, "") else parse_time(str(value), UTC, what)

    def _flag(value: Any) -> bool:
        return str(value or "").lower() in ("1", "true", "yes", "on")

    image = models.image_body({"image": "a photo"})
    private_png = {200: {"content": {"image/png": {}}, "description": "a PNG, never cached"}}

    # --- no key needed ------------------------------------------------------------------------

    @app.get("/health", response_model=models.Health)
    async def health() -> dict:
        """Answered by the event loop itself: fast however busy the models are."""
        return {"status": "ok", "model_queue": {**vars(queue.figures), "max_pending": queue.max_pending}}

    @app.get("/version", response_model=models.Version)
    async def version() -> dict:
        index = await run(lambda: type(recognizer.person_index).__name__)
        return {"version": facerec.__version__, "model": recognizer.embedder.model, "index": INDEX_NAMES[index]}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache", **DESK_HEADERS})

    app.mount("/web", StaticFiles(directory=WEB), name="web")

    @app.get("/v1/me", response_model=models.Me, responses=models.errors(401))
    async def me(caller: Checkin) -> dict:
        """The key's name and role (what the web page may show)."""
        return {"name": caller.name, "role": caller.role, "allows": [r for r in ROLES if allows(caller.role, r)]}

    # --- recognition ----------------------------------------------------------------------------

    @app.post(
        "/v1/detect",
        response_model=models.Detected,
        openapi_extra=image,
        responses=models.errors(401, 403, 413, 415, 422),
    )
    async def detect(request: Request, _caller: Reader, _queued: Admitted) -> dict:
        """Every face of an uploaded image (field ``image``)."""
        values = await uploads(request, ("image",))
        faces = await compute(request, lambda: recognizer.detect(values["image"]))
        return {"faces": [face.to_dict() for face in faces]}

    @app.post(
        "/v1/verify",
        response_model=models.Verification,
        openapi_extra=models.image_body({"image1": "a photo of one face", "image2": "another"}),
        responses=models.errors(401, 403, 413, 415, 422),
    )
    async def verify(request: Request, _caller: Reader, _queued: Admitted, largest: bool = False) -> dict:
        """Are the faces of ``image1`` and ``image2`` the same person?"""
        values = await uploads(request, ("image1", "image2"))
        result = await compute(request, lambda: recognizer.verify(values["image1"], values["image2"], largest=largest))
        return result.to_dict()

    @app.post(
        "/v1/identify",
        response_model=models.Identified,
        openapi_extra=image,
        responses=models.errors(401, 403, 413, 415, 422),
    )
    async def identify(
        request: Request,
        _caller: Checkin,
        _queued: Admitted,
        top_k: Annotated[int, Query(ge=1, le=100)] = 1,
        threshold: float | None = None,
        liveness: bool = False,
    ) -> dict:
        """Name every face of ``image``, or null for unknown; with ``liveness``, each face also
        says whether it is a live one (``live``, ``score``)."""
        values = await uploads(request, ("image",))
        limit = None if threshold is None else check_threshold(threshold)
        found = await compute(
            request, lambda: recognizer.identify(values["image"], top_k=top_k, threshold=limit, liveness=liveness)
        )
        return {"faces": [item.to_dict() for item in found]}

    @app.post(
        "/v1/liveness",
        response_model=models.Liveness,
        openapi_extra=image,
        responses=models.errors(401, 403, 413, 415, 422),
    )
    async def liveness(request: Request, _caller: Reader, _queued: Admitted) -> dict:
        """Whether each face of ``image`` is a live one, or a print or a screen."""
        values = await uploads(request, ("image",))
        found = await compute(request, lambda: recognizer.liveness(values["image"]))
        faces = [
            {k: v for k, v in face.to_dict().items() if k != "keypoints"} | verdict.to_dict() for face, verdict in found
        ]
        return {"faces": faces}

    # --- people ----------------------------------------------------------------------------------

    def _people() -> list[dict]:
        last = log.last_seen()
        groups: dict[str, list[str]] = {}
        for group, members in recognizer.store.groups().items():
            for name in members:
                groups.setdefault(name, []).append(group)
        return [
            p.to_dict() | {"last_seen": last.get(p.name), "groups": groups.get(p.name, [])}
            for p in recognizer.store.people()
        ]

    @app.get("/v1/persons", response_model=list[models.Person], responses=models.errors(401, 403))
    async def people(_caller: Reader) -> list[dict]:
        """Everyone enrolled: samples held, groups, when last seen at any check-in."""
        return await run(_people)

    def _person(name: str) -> dict:
        record = recognizer.store.person(name)
        everyone = {p["name"]: p for p in _people()}
        return everyone[record.name] | {"samples": [s.to_dict() for s in recognizer.store.samples(name)]}

    @app.post(
        "/v1/persons/{name:path}/images",
        status_code=201,
        response_model=models.EnrollReport,
        openapi_extra=models.image_body({"images": "a photo of the person"}, many="images"),
        responses={
            **models.errors(401, 403, 413, 415),
            422: models.EITHER_REPORT_OR_ERROR,
        },
    )
    async def enroll(
        name: Name,
        request: Request,
        caller: Enroller,
        _queued: Admitted,
        largest: bool = False,
        liveness: bool = False,
        allow_duplicate: Annotated[
            bool, Query(description="enrol a face enrolled already as someone else (twins); admin keys only")
        ] = False,
    ) -> JSONResponse:
        """Enrol one or more photos (field ``images``, repeated) for a person, created if new. A
        face enrolled already as someone else is skipped, saying who."""
        if allow_duplicate and not allows(caller.role, "admin"):
            raise HTTPException(403, "allow_duplicate needs a key with the 'admin' role")
        values = await uploads(request, ("images",), many=True)
        labelled = values["images"]
        report = await compute(
            request,
            lambda: recognizer.enroll(
                name, labelled, largest=largest, liveness=liveness, allow_duplicate=allow_duplicate
            ),
            caller,
        )
        status = 201 if report.added else 422
        return JSONResponse(report.to_dict(), status_code=status)

    @app.post(
        "/v1/persons/{name:path}/clip",
        status_code=201,
        response_model=models.EnrollReport,
        openapi_extra=models.image_body({"frames": "a frame of the clip, in order"}, many="frames"),
        responses={**models.errors(401, 403, 413, 415), 422: models.EITHER_REPORT_OR_ERROR},
    )
    async def enroll_clip(
        name: str,
        request: Request,
        caller: Enroller,
        _queued: Admitted,
        fps: Annotated[float, Query(ge=0.5, le=60, description="frames per second the clip was taken at")] = 5.0,
        faces: Annotated[int, Query(ge=1, le=20, description="samples to take from the clip")] = 5,
        allow_duplicate: Annotated[
            bool, Query(description="enrol a face enrolled already as someone else (twins); admin keys only")
        ] = False,
    ) -> JSONResponse:
        """Enrol a person from a short clip (field ``frames``, repeated, in order: the desk's
        webcam sends a few seconds of them): the person is followed and the ``faces`` best, most
        varied frames become samples, as ``facerec enroll NAME CLIP`` does. A clip with several
        people in view is refused (422)."""
        if allow_duplicate and not allows(caller.role, "admin"):
            raise HTTPException(403, "allow_duplicate needs a key with the 'admin' role")
        values = await uploads(request, ("frames",), many=True)

        def work():
            start = datetime.now(UTC)
            shown = (
                Frame(start + timedelta(seconds=i / fps), recognizer.load(data, name=label), f"frame {i}")
                for i, (label, data) in enumerate(values["frames"])
            )
            picked = clips.enrolment_faces(recognizer, shown, count=faces, label="clip")
            return recognizer.enroll(name, picked.images, largest=True, allow_duplicate=allow_duplicate)

        report = await compute(request, work, caller)
        return JSONResponse(report.to_dict(), status_code=201 if report.added else 422)

    # --- a person's data: consent, export (before /v1/persons/{name:path}, which would take them) ----

    @app.get(
        "/v1/persons/{name:path}/export",
        response_class=Response,
        responses={200: {"content": {"application/zip": {}}}, **models.errors(401, 403, 404)},
    )
    async def export_person(name: Name, caller: Admin) -> Response:
        """Everything held about one person, as one zip (GDPR Art. 15): samples' crops, embeddings and
        metadata, attendance, consent records, audit lines about them. Audited."""
        from facerec.store import subject_access

        data = await run(lambda: subject_access.archive(recognizer.store, name), caller=caller)
        disposition = {"Content-Disposition": 'attachment; filename="person-export.zip"'}
        return Response(data, media_type="application/zip", headers=PRIVATE | disposition)

    @app.post(
        "/v1/persons/{name:path}/consent",
        response_model=models.Consent,
        status_code=201,
        responses=models.errors(401, 403, 422),
    )
    async def give_consent(name: Name, body: models.ConsentGiven, caller: Enroller) -> dict:
        """Record a person's consent (recorded by this key), before enrolment where it is required."""
        from facerec.store.privacy import Privacy

        work = lambda: Privacy(recognizer.store).give(name, body.purpose, body.policy_version)  # noqa: E731
        return (await run(work, caller=caller)).to_dict()

    @app.get("/v1/persons/{name:path}/consent", response_model=list[models.Consent], responses=models.errors(401, 403))
    async def consents(name: Name, _caller: Reader) -> list[dict]:
        from facerec.store.privacy import Privacy

        return [c.to_dict() for c in await run(lambda: Privacy(recognizer.store).consents(name))]

    @app.delete(
        "/v1/persons/{name:path}/consent", response_model=models.Withdrawn, responses=models.errors(401, 403, 404)
    )
    async def withdraw_consent(name: Name, caller: Enroller) -> dict:
        """Withdraw consent: the person's face data is erased now; attendance rows stay. The receipt."""
        from facerec.identity import erasure

        receipt = await run(lambda: erasure.withdraw(recognizer.store, name), caller=caller)
        return {"withdrawn": check_name(name), "receipt": receipt}

    @app.get(
        "/v1/persons/{name:path}/samples", response_model=list[models.Sample], responses=models.errors(401, 403, 404)
    )
    async def samples(name: Name, _caller: Reader) -> list[dict]:
        return await run(lambda: [s.to_dict() for s in recognizer.store.samples(name)])

    @app.get("/v1/persons/{name:path}", response_model=models.PersonDetail, responses=models.errors(401, 403, 404))
    async def person(name: Name, _caller: Reader) -> dict:
        return await run(lambda: _person(name))

    @app.patch(
        "/v1/persons/{name:path}", response_model=models.Person, responses=models.errors(401, 403, 404, 409, 422)
    )
    async def rename(name: Name, body: models.Rename, caller: Enroller) -> dict:
        """Give a person another name."""
        return (await run(lambda: recognizer.store.rename(name, body.name), caller=caller)).to_dict()

    @app.delete("/v1/persons/{name:path}", response_model=models.Removed, responses=models.errors(401, 403, 404))
    async def remove(name: Name, caller: Enroller) -> dict:
        """The person with every sample, embedding, crop, attendance event and snapshot; the receipt
        says what was erased (also in the audit)."""
        from facerec.identity import erasure

        receipt = await run(lambda: erasure.remove(recognizer.store, name), caller=caller)
        return {"removed": check_name(name), "samples": receipt["samples"], "receipt": receipt}  # the name as stored

    @app.get(
        "/v1/samples/{sample_id}/crop",
        response_class=Response,
        responses={**private_png, **models.errors(401, 403, 404)},
    )
    async def sample_crop(sample_id: RecordId, caller: Reader) -> Response:
        """A sample's aligned face crop (each read audited); a placeholder where photos are not kept."""
        data = await run(lambda: recognizer.store.crop(sample_id), caller=caller)
        if not data:
            return Response(_placeholder(), media_type="image/png", headers=PRIVATE | {"X-Facerec-No-Photo": "1"})
        return Response(data, media_type="image/png", headers=PRIVATE)

    @app.delete("/v1/samples/{sample_id}", response_model=models.SampleRemoved, responses=models.errors(401, 403, 404))
    async def remove_sample(sample_id: RecordId, caller: Enroller) -> dict:
        record = await run(lambda: recognizer.store.remove_sample(sample_id), caller=caller)
        return {"removed": record.id, "person": record.person}

    # --- groups ----------------------------------------------------------------------------------

    @app.get("/v1/groups", response_model=models.Groups, responses=models.errors(401, 403))
    async def groups(_caller: Reader) -> dict:
        return {"groups": await run(recognizer.store.groups)}

    @app.patch("/v1/groups/{group:path}", response_model=models.Members, responses=models.errors(401, 403, 404, 422))
    async def change_group(group: Name, body: models.GroupChange, caller: Enroller) -> dict:
        """Add people to a group (a class, a department) and take others out."""

        def work() -> list[str]:
            members = recognizer.store.group_add(group, body.add) if body.add else []
            if body.remove:
                members = recognizer.store.group_remove(group, body.remove)
            return members if (body.add or body.remove) else recognizer.store.group_members(group)

        return {"group": group, "members": await run(work, caller=caller)}

    # --- attendance ------------------------------------------------------------------------------

    checkin_body = models.image_body(
        {"image": "a frame from the check-in point"},
        {
            "source": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TEXT,
                "pattern": TEXT_PATTERN,
                "description": "where the image comes from (a door, a camera)",
            },
            "time": {"type": "string", "description": "ISO 8601 (default: now)"},
            "unknowns": {"type": "string", "description": "true: keep unknown faces for review"},
            "session": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "pattern": TEXT_PATTERN,
                "description": "a kiosk's session: its frames share face tracks, so a person in front of it is "
                "checked in once, on two faces of their track, not once per frame (closed after 30 s idle)",
            },
        },
        required=("source",),
    )

    @app.post(
        "/v1/checkin",
        response_model=models.CheckinResult,
        openapi_extra=checkin_body,
        responses=models.errors(401, 403, 413, 415, 422),
    )
    async def checkin(
        request: Request,
        caller: Checkin,
        _queued: Admitted,
        threshold: float | None = None,
        liveness: bool | None = None,
    ) -> dict:
        """An image from a check-in point (fields ``image``, ``source``, optional ISO ``time``):
        each recognised person is checked in, or their event of the dedupe window updated. Faces
        are named at the same operating point as /v1/identify (``threshold`` overrides it). With
        ``liveness`` (or the server's --require-liveness, or the store's setting) a face that is
        not live is never checked in: it is recorded as a spoof event instead."""
        values = await uploads(request, ("image",))
        source = values.get("source")
        if not isinstance(source, str) or not source.strip():
            raise HTTPException(422, "say where the image comes from: field 'source'")
        moment = check_sighting_time(_time(values.get("time")))
        keep = _flag(values.get("unknowns"))
        check = True if config.require_liveness else liveness
        limit = None if threshold is None else check_threshold(threshold)
        session = values.get("session")
        if session is not None and (not isinstance(session, str) or not 0 < len(session) <= 100):
            raise HTTPException(422, "'session' names the kiosk's session in 1 to 100 characters")

        def attendance(rule: ConfirmRule, follow: FollowConfig | None = None) -> Attendance:
            where = source.strip()
            return Attendance(
                recognizer, where, rule=rule, keep_unknowns=keep, threshold=limit, liveness=check, follow=follow
            )

        def work() -> list[dict]:
            pixels = recognizer.load(values["image"])
            if session is not None:
                return [e.to_dict() for e in kiosks.process(session, source.strip(), attendance, pixels, moment)]
            alone = attendance(ConfirmRule(1, timedelta(0)))  # one photo: its faces decide at once
            return [event.to_dict() for event in alone.process(pixels, moment) + alone.finish()]

        return {"events": await compute(request, work, caller)}

    def _report(start: str, end: str, tz: str, group: str | None) -> tuple[reports.Report, list]:
        """The report of [start, end) in ``tz`` (of ``group``'s members only, if given), and its events."""
        zone = reports.zone(tz)
        lo, hi = _time(start, "start").astimezone(zone), _time(end, "end").astimezone(zone)
        return reports.gather(recognizer.store, lo, hi, zone, group)

    @app.get(
        "/v1/attendance",
        response_model=models.Attendance,
        response_model_by_alias=True,
        responses=models.errors(401, 403, 404, 422),
    )
    async def attendance(_caller: Reader, start: Text, end: Text, tz: Zone = "UTC", group: Name | None = None) -> dict:
        """Attendance between ``start`` and ``end`` (ISO 8601): per person and source, and who was
        absent; of one ``group`` if given."""

        def work() -> dict:
            built, events = _report(start, end, tz, group)
            return built.to_dict() | {"events": [e.to_dict(built.start.tzinfo) for e in events], "group": group}

        return await run(work)

    @app.get(
        "/v1/attendance.csv",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/csv": {}}}, **models.errors(401, 403, 404, 422)},
    )
    async def attendance_csv(
        _caller: Reader, start: Text, end: Text, tz: Zone = "UTC", group: Name | None = None
    ) -> Response:
        """The same report as `facerec report --format csv`."""
        text = await run(lambda: reports.render(_report(start, end, tz, group)[0], "csv"))
        return Response(
            text + "\n", media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="attendance.csv"'}
        )

    @app.get(
        "/v1/events/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, **models.errors(401, 403)},
    )
    async def stream(
        _caller: Reader,
        since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None,
    ) -> StreamingResponse:
        """Check-ins as they happen, from every source (any process writing to the store), as
        server-sent events (``event: check_in``, data: the event as JSON). Read it with fetch()
        so the key goes in the header: EventSource cannot send one. A client that reconnects
        with ``Last-Event-ID`` (or ``since``) gets the check-ins after that id first."""
        resume = since if since is not None else last_event_id
        last = resume if resume is not None else await run(log.last_event_id)

        async def events():
            nonlocal last
            yield ": facerec check-ins\n\n"
            while True:
                fresh = await run(functools.partial(log.events_after, last))
                for record in fresh:
                    last = max(last, record.id)
                    yield f"event: check_in\nid: {record.id}\ndata: {json.dumps(record.to_dict())}\n\n"
                await asyncio.sleep(FEED_POLL_SECONDS)

        return StreamingResponse(events(), media_type="text/event-stream", headers=PRIVATE)

    @app.get(
        "/v1/events/{event_id}/snapshot",
        response_class=Response,
        responses={**private_png, **models.errors(401, 403, 404)},
    )
    async def event_snapshot(event_id: RecordId, _caller: Reader) -> Response:
        """The best face crop of an attendance event (a placeholder once its face data is erased)."""
        data = await run(lambda: log.snapshot(event_id))
        if not data:
            return Response(_placeholder(), media_type="image/png", headers=PRIVATE | {"X-Facerec-No-Photo": "1"})
        return Response(data, media_type="image/png", headers=PRIVATE)

    @app.get("/v1/spoofs", response_model=list[models.Spoof], responses=models.errors(401, 403, 422))
    async def spoofs(_caller: Reader, start: Text | None = None, end: Text | None = None) -> list[dict]:
        """Spoof events (prints and screens held up to a check-in camera), oldest first."""
        lo, hi = (_time(start, "start") if start else None), (_time(end, "end") if end else None)
        rows = await run(lambda: log.spoofs(lo, hi))
        return [r.to_dict() for r in rows]

    @app.get(
        "/v1/spoofs/{spoof_id}/snapshot",
        response_class=Response,
        responses={**private_png, **models.errors(401, 403, 404)},
    )
    async def spoof_snapshot(spoof_id: RecordId, _caller: Reader) -> Response:
        data = await run(lambda: log.spoof_snapshot(spoof_id))
        return Response(data, media_type="image/png", headers=PRIVATE)

    def _unknowns(clusters: bool) -> list[dict]:
        rows = log.unknowns()
        docs = [r.to_dict() for r in rows]
        for doc, person in zip(docs, unknown_people(recognizer, rows) if clusters else [], strict=False):
            doc["cluster"] = person
        return docs

    @app.get("/v1/unknowns", response_model=list[models.Unknown], responses=models.errors(401, 403))
    async def unknowns(_caller: Reader, clusters: bool = False) -> list[dict]:
        """Unknown sightings kept for review; with ``clusters``, each numbered by the unknown person
        it is (sightings alike at the identification operating point)."""
        return await run(lambda: _unknowns(clusters))

    @app.get(
        "/v1/unknowns/{sighting_id}/snapshot",
        response_class=Response,
        responses={**private_png, **models.errors(401, 403, 404)},
    )
    async def unknown_snapshot(sighting_id: RecordId, _caller: Reader) -> Response:
        row = await run(lambda: log.unknown(sighting_id))
        return Response(row.snapshot, media_type="image/png", headers=PRIVATE)

    @app.post("/v1/unknowns/assign", response_model=models.Assigned, responses=models.errors(401, 403, 404, 409, 422))
    async def assign(body: models.AssignBody, caller: Enroller) -> dict:
        """ "This is ...": enrol unknown sightings (one, or a whole cluster's) as the person named,
        in one transaction; they leave the unknowns. 409, naming who, if a sighting is identified
        as someone else enrolled (``allow_duplicate``, admin keys only: twins)."""
        if body.allow_duplicate and not allows(caller.role, "admin"):
            raise HTTPException(403, "allow_duplicate needs a key with the 'admin' role")
        held = await run(
            lambda: assign_sightings(recognizer, log, body.sightings, body.name, body.allow_duplicate), caller=caller
        )
        return {"name": body.name, "sightings": body.sightings, "samples": held}

    # --- settings and audit ----------------------------------------------------------------------

    def _settings() -> dict:
        stored = log.settings()
        threshold = recognizer.store.setting(f"threshold:{recognizer.embedder.model}")
        usable = threshold and threshold.get("centre") == recognizer.embedder.centre_id
        return {
            "dedupe_seconds": stored["dedupe_seconds"],
            "retention_days": stored["retention_days"],
            "liveness": bool(stored["liveness"]),
            "threshold": float(threshold["threshold"]) if usable else None,
        }

    @app.get("/v1/privacy", response_model=models.Privacy, responses=models.errors(401, 403))
    async def privacy_settings(_caller: Admin) -> dict:
        from facerec.store.privacy import Privacy

        return await run(lambda: Privacy(recognizer.store).settings())

    @app.patch("/v1/privacy", response_model=models.Privacy, responses=models.errors(401, 403, 422))
    async def change_privacy(body: models.PrivacyChange, caller: Admin) -> dict:
        """Consent required, photos kept, template retention (a new retention purges what it covers now)."""
        from facerec.identity import erasure
        from facerec.store.privacy import Privacy

        changes = body.model_dump(exclude_none=True)
        if "template_retention_days" in changes:
            changes["template_retention_days"] = changes["template_retention_days"] or None

        def work() -> dict:
            settings = Privacy(recognizer.store).configure(**changes)
            if "template_retention_days" in changes:
                erasure.purge_templates(recognizer.store)
            return settings

        return await run(work, caller=caller)

    @app.get("/v1/settings", response_model=models.Settings, responses=models.errors(401, 403))
    async def settings(_caller: Reader) -> dict:
        return await run(_settings)

    @app.patch("/v1/settings", response_model=models.Settings, responses=models.errors(401, 403, 422))
    async def change_settings(body: models.SettingsChange, caller: Admin) -> dict:
        """Change the dedupe window, the retention, the liveness default or the identification threshold."""

        def work() -> dict:
            changes: dict[str, Any] = {}
            if body.dedupe_seconds is not None:
                changes["dedupe_seconds"] = body.dedupe_seconds
            if body.retention_days is not None:
                changes["retention_days"] = body.retention_days or None
            if body.liveness is not None:
                changes["liveness"] = body.liveness
            if changes:
                log.apply_retention(log.configure(**changes))
            key = f"threshold:{recognizer.embedder.model}"
            if body.clear_threshold:
                recognizer.store.remove_setting(key)
            elif body.threshold is not None:
                value = {
                    "threshold": check_threshold(body.threshold),
                    "source": "set through the API",
                    "centre": recognizer.embedder.centre_id,
                }
                recognizer.store.put_setting(key, value)
            return _settings()

        return await run(work, caller=caller)

    app.include_router(events_api.router(recognizer.store, role, run))
    events_api.document_webhooks(app)

    @app.get("/v1/audit", response_model=list[models.AuditEntry], responses=models.errors(401, 403))
    async def audit(_caller: Admin, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict]:
        """The latest changes made through the API: when, by which key, what."""
        return await run(lambda: recognizer.store.audit(limit))

    def openapi() -> dict:
        """FastAPI's schema, with its own 422 (a list of objects) replaced by ours: every error is
        one {"detail": "..."} sentence, and the schema says so."""
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            webhooks=app.webhooks.routes,
        )
        error = {"$ref": "#/components/schemas/Error"}
        for hook in (op for path in schema.get("webhooks", {}).values() for op in path.values()):
            answers = hook.setdefault("responses", {})
            for code in [c for c in answers if c.startswith(("4", "5"))]:
                answers.pop(code)  # a receiver's errors are its own: facerec retries any answer but 2xx
        for operation in (op for path in schema["paths"].values() for op in path.values()):
            answers = operation.setdefault("responses", {})
            answers.setdefault("400", {"description": "a path or query that is not UTF-8 once percent-decoded"})
            if "401" in answers:
                answers.setdefault("429", {"description": "too many wrong keys from this address or for this key"})
            for code, answer in answers.items():
                if not code.startswith(("4", "5")):
                    continue
                json_body = answer.get("content", {}).get("application/json", {})
                if json_body.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    answer["description"] = "a request that cannot be done: a bad value, no face, an undecodable image"
                    json_body = {}
                # Errors are JSON whatever the endpoint gives when it succeeds (a PNG, CSV, a stream).
                answer["content"] = {"application/json": json_body or {"schema": error}}
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components.setdefault("Error", models.Error.model_json_schema())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
    return app
