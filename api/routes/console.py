"""The web console: one static page and its assets, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from api.auth import PUBLIC

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# Only our own scripts and styles, no inline code: alert data rendered by a bug can't run script.
CONSOLE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# Open: the page itself holds no data; it asks for a token and sends it with every API call.
router = APIRouter(include_in_schema=False, dependencies=[Depends(PUBLIC)])


@router.get("/")
def console() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=CONSOLE_HEADERS)
