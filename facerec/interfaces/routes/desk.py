"""The attendance desk: the web page (``/``) and its files (``/web``), sent with the headers
that keep it to itself (facerec.interfaces.http_rules.DESK_HEADERS)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from facerec.interfaces.http_rules import DESK_HEADERS

WEB = Path(__file__).resolve().parent.parent / "web"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache", **DESK_HEADERS})
