"""Pictures of people and their data are never kept by a browser or a proxy beyond the response:
every /v1/ answer says so (PrivateAnswers), and a face whose photo is not kept is shown as a
placeholder rather than an empty answer."""

from __future__ import annotations

import functools
import io

from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PRIVATE_RAW = {name.lower().encode(): value.encode() for name, value in PRIVATE.items()}
# How the schema describes an endpoint answering with a picture.
PRIVATE_PNG: dict[int | str, dict] = {200: {"content": {"image/png": {}}, "description": "a PNG, never cached"}}


class PrivateAnswers:
    """Every /v1/ answer carries PRIVATE's headers. Plain ASGI rather than @app.middleware: that
    one wraps the request's receive channel, and a client that hangs up is then never seen."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name in PRIVATE_RAW}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *PRIVATE_RAW.items()]}
            await send(message)

        await self.app(scope, receive, private)


@functools.cache
def placeholder() -> bytes:
    """What the desk shows for a face whose photo is not kept: a grey silhouette, 160 px."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 160), (225, 225, 225))
    draw = ImageDraw.Draw(image)
    draw.ellipse((52, 28, 108, 92), fill=(180, 180, 180))
    draw.ellipse((28, 100, 132, 200), fill=(180, 180, 180))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def photo(data: bytes | None) -> Response:
    """A face crop as a private PNG, or the placeholder (marked X-Facerec-No-Photo) where none is kept."""
    if not data:
        return Response(placeholder(), media_type="image/png", headers=PRIVATE | {"X-Facerec-No-Photo": "1"})
    return Response(data, media_type="image/png", headers=PRIVATE)
