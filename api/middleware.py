"""ASGI middleware around every route: request bodies bounded before anything reads them, and API
answers kept out of caches.

Pure ASGI (no ``BaseHTTPMiddleware``): the body limit must see each chunk as it arrives, and
neither may buffer a streamed response such as the alert stream.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console's own files hold no data and may be cached; everything else may carry alerts.
CACHEABLE_PREFIX = "/static/"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"the request body is larger than {limit} bytes, the most this API accepts "
            "(VEILLE_API_MAX_BODY_BYTES)",
            # The rest of the body is not worth reading: the client stops sending when we hang up.
            headers={"Connection": "close"},
        )


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413 before they are parsed or even read.

    A declared ``Content-Length`` over the limit is answered at once, before routing: no token
    lookup, no handler. A body without one (chunked) is counted as the app reads it; the chunk that
    crosses the limit raises :class:`BodyTooLarge`, which FastAPI answers as any HTTP error, so at
    most ``max_bytes`` plus one chunk is ever held.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(send, BodyTooLarge(self.max_bytes))
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:
            # Read outside a route (where FastAPI would have answered it): answer here if still possible.
            if started:
                raise
            await _answer(send, exc)


async def _answer(send: Send, error: HTTPException) -> None:
    body = json.dumps({"detail": error.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class NoStore:
    """``Cache-Control: no-store`` on every response but the console's static files: alerts, audit
    entries and bulk results must not stay in a browser's or a proxy's cache. A route that sets its
    own ``Cache-Control`` keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CACHEABLE_PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
