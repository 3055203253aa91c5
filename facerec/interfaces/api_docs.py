"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files facerec serves itself.

FastAPI's own pages load their scripts from a CDN, so on a machine without internet they are blank.
fastapi-standalone-docs ships both bundles with their licences; only its files are used here (its
``StandaloneDocs`` replaces a function inside FastAPI for every app in the process).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_standalone_docs
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_standalone_docs.__file__).parent / "static"
DOCS, REDOC = "/docs", "/redoc"


def add_api_docs(app: FastAPI, title: str) -> None:
    """Serve the two pages and their assets (under ``/docs/`` and ``/redoc/``) from this package's
    dependency; no request leaves the server. The app must be made with docs_url=redoc_url=None."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title}: API",
            swagger_js_url=f"{DOCS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS}/fastapi/favicon.png",
            # The spec is not sent to swagger.io's validator (Swagger UI's default).
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(REDOC, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title}: API",
            redoc_js_url=f"{REDOC}/redoc.standalone.js",
            redoc_favicon_url=f"{REDOC}/fastapi/favicon.png",
            with_google_fonts=False,
        )

    # Mounted after the pages' routes, so "/docs" itself is the page and "/docs/..." the files.
    for prefix in (DOCS, REDOC):
        app.mount(f"{prefix}/fastapi", StaticFiles(directory=ASSETS / "fastapi"))
    app.mount(DOCS, StaticFiles(directory=ASSETS / "swagger"))
    app.mount(REDOC, StaticFiles(directory=ASSETS / "redoc"))
