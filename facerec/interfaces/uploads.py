"""Request bodies read the way a server that faces the network must: bounded in bytes and in time
as they stream in (with or without Content-Length), and parsed in memory; images arrive as
multipart uploads or as base64 strings in JSON, and come out the same: checked bytes.

Starlette's own form parser spools any file over 1 MB to a temporary file on disk; a photo of a
person must never land outside the store, so multipart bodies are parsed here, in memory, with
python-multipart's streaming parser (the one Starlette uses).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

from facerec.interfaces.http_rules import text_problem
from facerec.interfaces.server_config import ServerConfig

MAX_PARTS = 64  # form fields and files together: enrolment's 50 photos and a few fields
MAX_ENROLL_IMAGES = 50
# Leading bytes of the formats images.load_image decodes; anything else is "not an image" (415).
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class Part:
    """One field of a multipart form: a file (``filename`` set) or a value."""

    name: str
    filename: str | None
    data: bytes


async def read_body(request: Request, limit: int, timeout: float, too_large: str) -> bytes:
    """The whole body, refused with 413 (``too_large``) as soon as it passes ``limit`` bytes,
    declared or not (a chunked upload is counted as it streams in), and with 408 when it has not
    arrived within ``timeout`` seconds (a client that never finishes holds nothing for long)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, too_large)
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - time.monotonic()))
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise HTTPException(408, f"the request body did not arrive within {timeout:g} s") from None
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(body: bytes, content_type: str, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a multipart/form-data body, in order; 422 for a malformed one, 413 for one
    with more than ``max_parts`` parts."""
    _kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise HTTPException(422, "multipart/form-data without a boundary")
    parts: list[Part] = []
    current: dict = {}
    header = [b"", b""]

    def begin() -> None:
        current.clear()
        current.update(disposition=b"", data=bytearray())

    def header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def header_end() -> None:
        if header[0].lower() == b"content-disposition":
            current["disposition"] = header[1]
        header[0], header[1] = b"", b""

    def part_data(data: bytes, start: int, end: int) -> None:
        current["data"] += data[start:end]

    def part_end() -> None:
        _disposition, fields = parse_options_header(current["disposition"])
        if b"name" not in fields:
            raise HTTPException(422, 'a form part without a name (Content-Disposition: form-data; name="...")')
        if len(parts) >= max_parts:
            raise HTTPException(413, f"at most {max_parts} form fields and files per request")
        filename = fields.get(b"filename")
        parts.append(
            Part(
                fields[b"name"].decode("utf-8", "replace"),
                filename.decode("utf-8", "replace") if filename is not None else None,
                bytes(current["data"]),
            )
        )

    callbacks = {
        "on_part_begin": begin,
        "on_header_field": header_field,
        "on_header_value": header_value,
        "on_header_end": header_end,
        "on_part_data": part_data,
        "on_part_end": part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except HTTPException:
        raise
    except ValueError as exc:  # python-multipart's errors: the body is not the form it says it is
        raise HTTPException(422, f"malformed multipart body: {exc}") from None
    return parts


def is_image(data: bytes) -> bool:
    return data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def upload_label(filename: str | None, field: str, index: int, taken: Collection[str] = ()) -> str:
    """How an uploaded photo is named in the enrolment report (and kept as its sample's source):
    the client's file name without folders or control characters, else ``images[i]``; a name
    given twice in one request gets its position (``photo.jpg [2]``), so each outcome is one file's."""
    name = "".join(c for c in (filename or "").replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())[:255]
    name = name.strip() or f"{field}[{index}]"
    return f"{name} [{index}]" if name in taken else name


def utf8_text(key: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, f"{key}: not UTF-8 text") from None


def decode_base64(key: str, value: Any) -> bytes:
    """A base64 string, or a data: URL's (what a browser's FileReader gives)."""
    if not isinstance(value, str):
        raise HTTPException(422, f"{key} must be a base64 string")
    try:
        return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{key} is not valid base64") from None


def form_values(body: bytes, content_type: str, fields: tuple[str, ...], many: bool) -> dict[str, Any]:
    """A multipart form's fields: image fields as bytes (with ``many``, a list of (label, bytes)
    labelled with the file's name), the others as text."""
    values: dict[str, Any] = {}
    for part in parse_form(body, content_type):
        data = part.data if part.filename is not None else utf8_text(part.name, part.data)
        if many and part.name in fields:
            items = values.setdefault(part.name, [])
            taken = {label for label, _data in items}
            items.append((upload_label(part.filename, part.name, len(items), taken), part.data))
        elif part.name in fields:
            values[part.name] = part.data
        else:
            values[part.name] = data
    return values


def json_values(body: bytes, fields: tuple[str, ...], many: bool) -> dict[str, Any]:
    """A JSON object's fields: image fields decoded from base64 (with ``many``, a list of
    (``field[i]``, bytes)), the others as they are."""
    try:
        document = json.loads(body)
    except ValueError:
        raise HTTPException(422, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise HTTPException(422, "the JSON body must be an object")
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key in fields:
            items = value if isinstance(value, list) else [value]
            decoded = [decode_base64(key, item) for item in items]
            if not many and len(decoded) != 1:
                raise HTTPException(422, f"{key} must be one base64 string")
            values[key] = [(f"{key}[{i}]", d) for i, d in enumerate(decoded)] if many else decoded[0]
        else:
            values[key] = value
    return values


def check_values(values: dict[str, Any], fields: tuple[str, ...], many: bool, config: ServerConfig) -> None:
    """Text that is text, every image field there, each image within the size limit and (but for
    enrolment's, reported by name there) an image."""
    for key, value in values.items():
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            raise HTTPException(422, f"{key}: {problem}")
    for key in fields:
        if key not in values:
            raise HTTPException(422, f"missing image field {key!r}")
        if many and len(values[key]) > MAX_ENROLL_IMAGES:
            raise HTTPException(413, f"at most {MAX_ENROLL_IMAGES} images per request")
        for label, data in values[key] if many else [(key, values[key])]:
            if not isinstance(data, bytes):
                raise HTTPException(422, f"field {key!r} must be a file upload")
            if len(data) > config.max_upload_bytes:
                raise HTTPException(413, f"{label}: upload larger than {config.max_upload_mb:g} MB")
            if not many and not is_image(data):
                raise HTTPException(415, f"{label}: not an image (JPEG, PNG, GIF, BMP, TIFF or WebP)")


async def read_uploads(
    request: Request, config: ServerConfig, fields: tuple[str, ...], many: bool = False
) -> dict[str, Any]:
    """Image bytes (checked) and other fields from a multipart form or a JSON body. With
    ``many`` (enrolment), each image field is a list of (label, bytes), labelled with its file
    name, and a file that is not an image is left for enrolment to report by that name: one bad
    file in a batch must not refuse the good ones."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("multipart/form-data", "application/json")):
        raise HTTPException(415, "send images as multipart/form-data or base64 in application/json")
    # Each image may use the limit, plus room for the form's other fields and base64's third
    # (enrolment may carry up to MAX_ENROL_IMAGES); refused as soon as the body passes it.
    images = MAX_ENROLL_IMAGES if many else len(fields)
    body = await read_body(
        request,
        images * config.max_upload_bytes * 4 // 3 + 2**20,
        config.body_timeout,
        f"upload larger than {config.max_upload_mb:g} MB per image",
    )
    if kind.startswith("multipart/form-data"):
        values = form_values(body, kind, fields, many)
    else:
        values = json_values(body, fields, many)
    check_values(values, fields, many, config)
    return values
