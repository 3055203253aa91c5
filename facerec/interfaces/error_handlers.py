"""Every error answer is one JSON sentence, ``{"detail": "..."}``: the library's errors in the
API's words and status codes, FastAPI's validation errors as one sentence, and the few answers
of FastAPI's own that need a better word (a body it cannot parse, a 405)."""

from typing import cast

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from facerec import errors
from facerec.interfaces.http_rules import allowed_methods
from facerec.interfaces.private_answers import PRIVATE

STORE_RETRY_SECONDS = 5  # Retry-After when the store is unreachable or read-only


def status_for(exc: errors.FacerecError) -> int:
    """The HTTP status of a library error: the store down is 503, not a client's mistake."""
    if isinstance(exc, errors.StoreUnavailableError):
        return 503
    if isinstance(exc, errors.UnknownPersonError):
        return 404
    if isinstance(exc, errors.DuplicateNameError | errors.DuplicateIdentityError):
        return 409
    return 422


def api_message(exc: errors.FacerecError) -> str:
    """The library's message in the API's words: an option the shell spells --largest is the
    query parameter largest=true here."""
    return str(exc).replace("use --largest", "add largest=true")


def unreadable_json(reason: str) -> JSONResponse:
    return JSONResponse({"detail": f"the body is not valid JSON: {reason}"}, status_code=422, headers=PRIVATE)


async def facerec_error(_request: Request, exc: Exception) -> Response:
    error = cast(errors.FacerecError, exc)  # registered for FacerecError only
    status = status_for(error)
    headers = PRIVATE | ({"Retry-After": str(STORE_RETRY_SECONDS)} if status == 503 else {})
    return JSONResponse({"detail": api_message(error)}, status_code=status, headers=headers)


async def invalid_request(_request: Request, exc: Exception) -> Response:
    """One sentence, like every other error (FastAPI's own is a list of objects)."""
    parts = []
    for problem in cast(RequestValidationError, exc).errors():  # registered for it only
        if problem.get("type") == "json_invalid":
            where = problem.get("loc", ("body", "?"))[-1]
            reason = problem.get("ctx", {}).get("error", "JSON decode error")
            return unreadable_json(f"{reason} at character {where}")
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's
        parts.append(f"{where}: {message}" if where else message)
    return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422, headers=PRIVATE)


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answers, but a body it cannot parse (JSON that is not UTF-8, nested too deep)
    is a 422 like any other bad body, and a 405 names every method of the path."""
    error = cast(StarletteHTTPException, exc)  # registered for it only
    if error.status_code == 400 and error.detail == "There was an error parsing the body":
        return unreadable_json("not UTF-8, or nested too deep")
    if error.status_code == 405:
        allow = ", ".join(allowed_methods(request.app.router.routes, request.scope))
        return JSONResponse(
            {"detail": f"{request.method} is not allowed here; use {allow}"}, 405, headers={"Allow": allow}
        )
    return await http_exception_handler(request, error)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.FacerecError, facerec_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
