"""The API's own /openapi.json: FastAPI's schema, with its 422 (a list of objects) replaced by
ours. Every error is one ``{"detail": "..."}`` sentence whatever the endpoint answers when it
succeeds, and the schema says so; webhooks document no errors (a receiver's are its own)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from facerec.interfaces import api_models as models

ERROR = {"$ref": "#/components/schemas/Error"}


def drop_webhook_errors(schema: dict[str, Any]) -> None:
    """A receiver's errors are its own: facerec retries any answer but 2xx."""
    for hook in (op for path in schema.get("webhooks", {}).values() for op in path.values()):
        answers = hook.setdefault("responses", {})
        for code in [c for c in answers if c.startswith(("4", "5"))]:
            answers.pop(code)


def document_errors(operation: dict[str, Any]) -> None:
    """The 400 and 429 every operation may give, and every error answer as JSON ``Error``."""
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
        answer["content"] = {"application/json": json_body or {"schema": ERROR}}


def schema_of(app: FastAPI) -> dict[str, Any]:
    """``app``'s schema, made once and kept (as FastAPI's own ``openapi()`` does)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    drop_webhook_errors(schema)
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        document_errors(operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.setdefault("Error", models.Error.model_json_schema())
    app.openapi_schema = schema
    return schema


def use_own_schema(app: FastAPI) -> None:
    """Have ``app`` serve schema_of(app) at /openapi.json."""
    app.openapi = lambda: schema_of(app)  # type: ignore[method-assign]  # FastAPI's documented way to replace it
