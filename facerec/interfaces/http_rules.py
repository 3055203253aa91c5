"""What every HTTP answer and request of the server keeps to, whatever the endpoint: text that is
text, the headers a browser needs to keep the desk to itself, and a truthful ``Allow``.

- A path or query whose percent-encoding is not UTF-8 (``%ED%A0%80``) is refused with 400:
  Starlette would decode it to replacement characters and, say, create a group of that name.
- Every text field (bodies, paths, queries) is :data:`Text`: no control, format, surrogate or
  unassigned characters, NFC, bounded, the rule names follow (facerec.store.names.check_name),
  so no text can reach the store that it cannot encode (a lone surrogate was a 500 in SQLite).
- The desk (``/``) is sent with a Content-Security-Policy allowing only its own script and styles
  (no inline script) and no framing; every answer says ``nosniff`` and sends no Referer.
- A 405 lists every method the path has (Starlette lists only the first route's).
"""

from __future__ import annotations

import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from starlette.routing import Match
from starlette.types import Scope

MAX_TEXT = 255

DESK_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}
EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
_EVERY_RAW = [(name.lower().encode(), value.encode()) for name, value in EVERY_ANSWER.items()]
_ERROR = b'{"detail":"the request path or query is not valid UTF-8 once percent-decoded"}'


def text_problem(value: str, max_length: int = MAX_TEXT) -> str | None:
    """Why ``value`` is not acceptable text (None: it is)."""
    bad = next((ch for ch in value if unicodedata.category(ch).startswith("C")), None)
    if bad is not None:
        return f"cannot contain control characters (U+{ord(bad):04X}: control, format, surrogate or unassigned)"
    if len(unicodedata.normalize("NFC", value)) > max_length:
        return f"can have at most {max_length} characters"
    return None


def clean_text(value: str) -> str:
    """``value`` in NFC, or ValueError saying what is wrong with it (pydantic turns it into a 422)."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value)


# What the schema says of text (control characters; format, surrogate and unassigned ones are
# refused too, which a JSON Schema pattern cannot say).
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
Text = Annotated[
    str,
    StringConstraints(max_length=MAX_TEXT),
    AfterValidator(clean_text),
    WithJsonSchema({"type": "string", "maxLength": MAX_TEXT, "pattern": TEXT_PATTERN}),
]
# A name also holds something besides spaces.
NAME_PATTERN = (
    "^[^\\S\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
)
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT),
    AfterValidator(clean_text),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": NAME_PATTERN}),
]


def every_route(routes: Sequence[Any]) -> Iterable[Any]:
    """``routes`` with each included router's own routes in its place: FastAPI 0.16x keeps an
    included router behind one entry of app.routes; before, include_router copied its routes."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return routes
    return iter_route_contexts(routes)


def allowed_methods(routes: Sequence[Any], scope: Scope) -> list[str]:
    """Every method some route of ``routes`` answers on ``scope``'s path (HEAD with GET)."""
    methods: set[str] = set()
    for route in every_route(routes):
        match, _ = route.matches(scope)
        found = getattr(route, "methods", None)
        if match != Match.NONE and found:
            methods |= set(found)
    return sorted(methods)


class HttpRules:
    """ASGI middleware: the UTF-8 check of the request line and the headers of every answer.
    Plain ASGI (not @app.middleware), like PrivateAnswers, so a client that hangs up is seen."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            for raw in (scope.get("raw_path") or scope["path"].encode(), scope.get("query_string", b"")):
                urllib.parse.unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_ERROR)).encode())]
            await send({"type": "http.response.start", "status": 400, "headers": headers + _EVERY_RAW})
            await send({"type": "http.response.body", "body": _ERROR})
            return

        async def headed(message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _EVERY_RAW}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *_EVERY_RAW]}
            await send(message)

        await self.app(scope, receive, headed)
