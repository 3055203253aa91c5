"""Request bodies read the way a server that faces the network must: bounded in bytes and in time
as they stream in (with or without Content-Length), and parsed in memory.

Starlette's own form parser spools any file over 1 MB to a temporary file on disk; a photo of a
person must never land outside the store, so multipart bodies are parsed here, in memory, with
python-multipart's streaming parser (the one Starlette uses).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_PARTS = 64  # form fields and files together: enrolment's 50 photos and a few fields


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
