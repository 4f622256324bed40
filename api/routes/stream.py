"""Server-sent events of new and changed alerts, filtered by the caller's role.

The store is polled (the API may run as several processes over one database, so there is no
in-process event to wait on); each poll pages through every change since the last one
(:class:`api.services.alert_stream.ChangeFeed`), so a burst of any size arrives whole. Each event's id
is the stream's position: a client that reconnects with it as ``Last-Event-ID`` (browsers do so by
themselves) gets exactly the changes after it.

The token is checked again on every poll: once it is revoked or expired the stream says so in a
``closed`` event and ends. A token holds at most ``VEILLE_API_STREAMS_PER_TOKEN`` streams at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from alerts.audit import Actor
from alerts.query import Change, Instant, InvalidCursor, Position, decode_position, encode_position
from alerts.store import SqlAlertStore, StoreError
from alerts.tokens import Role, parse
from api.auth import Pseudonymizer, TokenRefused, bearer_token, comms_may_see, usable, visible_alert
from api.deps import PseudonymizerDep, ReaderDep, StoreDep, StreamSlotsDep
from api.errors import safe_reason
from api.schemas import ErrorMessage, guarded_responses
from api.services.alert_stream import ChangeFeed, StreamSlot, TooManyStreams

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0

router = APIRouter(tags=["alerts"], responses=guarded_responses("the token's role may not read alerts"))


@router.get(
    "/alerts/stream",
    summary="Server-sent events of new and changed alerts",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "example": 'event: new\nid: WzIsMTc...\ndata: {"id": "9f2c...", "status": "open"}\n\n'
                }
            },
            "description": "`new` for an alert stored, `changed` for any later change; `: ping` every "
            "15 s; `closed` (then the end) once the token is revoked or expired",
        },
        400: {"model": ErrorMessage, "description": "Last-Event-ID is not an id this stream sent"},
        429: {"model": ErrorMessage, "description": "the token already holds its most open streams"},
    },
)
async def stream(
    request: Request,
    store: StoreDep,
    actor: ReaderDep,
    token: Annotated[str, Depends(bearer_token)],
    slots: StreamSlotsDep,
    pseudonymize: PseudonymizerDep,
    since: Annotated[
        Instant | None,
        Query(description="also send changes from this instant on, ISO 8601 with a timezone (default: now)"),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=256, description="resume after this event (its `id`)"),
    ] = None,
) -> StreamingResponse:
    if last_event_id is not None:
        try:
            floor = decode_position(last_event_id)
        except InvalidCursor as exc:
            raise HTTPException(
                status_code=400,
                detail=f"Last-Event-ID is not valid: {exc.reason}; send back the id of an event this "
                "stream sent, unchanged, or reconnect without it",
            ) from None
    else:
        start = since if since is not None else datetime.now(UTC)
        floor = (start, "")
    # The guard authenticated a well-formed token, so it has an id.
    token_id = parse(token) or token
    try:
        slot = slots.acquire(token_id)
    except TooManyStreams:
        raise HTTPException(
            status_code=429,
            detail=f"token {actor.name!r} already has {slots.per_token} alert streams open, the most "
            "allowed (VEILLE_API_STREAMS_PER_TOKEN); close one before opening another",
        ) from None
    feed = ChangeFeed(store, floor)
    return _SlotStreamingResponse(
        _events(request, store, token, actor, pseudonymize, feed),
        slot,
        # No proxy buffering (nginx): events must arrive as they are sent. Not cached: api.middleware.
        {"X-Accel-Buffering": "no"},
    )


class _SlotStreamingResponse(StreamingResponse):
    """Gives the token's stream slot back however the stream ends (client gone, token refused, error)."""

    def __init__(self, events: AsyncGenerator[str, None], slot: StreamSlot, headers: dict[str, str]) -> None:
        super().__init__(events, media_type="text/event-stream", headers=headers)
        self._events = events
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()
            # Stop polling now, not whenever the generator is garbage-collected.
            await self._events.aclose()


async def _events(
    request: Request,
    store: SqlAlertStore,
    token: str,
    actor: Actor,
    pseudonymize: Pseudonymizer,
    feed: ChangeFeed,
) -> AsyncGenerator[str, None]:
    yield ": connected\n\n"
    # The highest position sent or passed over: every event's id, so that a late change sent behind
    # it never makes a reconnecting client receive again what came after.
    mark = feed.position
    idle = 0.0
    while not await request.is_disconnected():
        try:
            usable(await run_in_threadpool(store.authenticate, token))
            page = await run_in_threadpool(feed.late)
            while True:
                for change in page:
                    mark = max(mark, change.position)
                    event = _change_event(change, mark, actor, pseudonymize)
                    if event is not None:
                        idle = 0.0
                        yield event
                page = await run_in_threadpool(feed.next_page)
                if not page or await request.is_disconnected():
                    break
        except TokenRefused as exc:
            yield _event("closed", encode_position(mark), {"detail": str(exc)})
            return
        except StoreError as exc:
            # Nothing can be read either: wait for the store rather than end a healthy stream.
            log.warning("alert stream: store unavailable: %s", safe_reason(exc))
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= HEARTBEAT_SECONDS:
            idle = 0.0
            yield ": ping\n\n"


def _change_event(change: Change, mark: Position, actor: Actor, pseudonymize: Pseudonymizer) -> str | None:
    alert = change.alert
    if actor.role == Role.COMMS.value and not comms_may_see(alert):
        return None
    # As the alert was first stored, or changed since (reviewed, grouped into, anonymised).
    fresh = alert.updated_at is None and alert.occurrences == 1 and alert.anonymised_at is None
    public = visible_alert(alert, actor, pseudonymize)
    return _event("new" if fresh else "changed", encode_position(mark), public.model_dump(mode="json"))


def _event(kind: str, event_id: str, data: object) -> str:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {kind}\nid: {event_id}\ndata: {body}\n\n"
