"""Server-sent events of new and changed alerts, filtered by the caller's role.

The store is polled (the API may run as several processes over one database, so there is no
in-process event to wait on). Each poll looks back :data:`LOOKBACK` because a worker stamps
``created_at`` before its batch commits: an alert can become visible with a time slightly in the
past. A change already sent (same id and change time) is not sent again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from alerts.audit import Actor
from alerts.model import Alert
from alerts.query import Instant
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from api.auth import Pseudonymizer, comms_may_see, visible_alert
from api.deps import PseudonymizerDep, ReaderDep, StoreDep
from api.schemas import guarded_responses

POLL_SECONDS = 1.0
LOOKBACK = timedelta(seconds=30)
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
                    "example": 'event: new\nid: 9f2c...\ndata: {"id": "9f2c...", "status": "open", ...}\n\n'
                }
            },
            "description": "`new` for an alert stored, `changed` for a review change; `: ping` every 15 s",
        }
    },
)
async def stream(
    request: Request,
    store: StoreDep,
    actor: ReaderDep,
    pseudonymize: PseudonymizerDep,
    since: Annotated[
        Instant | None,
        Query(description="also send changes from this instant on, ISO 8601 with a timezone (default: now)"),
    ] = None,
) -> StreamingResponse:
    start = since if since is not None else datetime.now(UTC)
    return StreamingResponse(
        _events(request, store, actor, pseudonymize, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, store: SqlAlertStore, actor: Actor, pseudonymize: Pseudonymizer, start: datetime
) -> AsyncIterator[str]:
    sent: dict[tuple[str, datetime], datetime] = {}
    cursor = start
    idle = 0.0
    yield ": connected\n\n"
    while not await request.is_disconnected():
        alerts: list[Alert] = await run_in_threadpool(store.changed_since, min(cursor, _now() - LOOKBACK))
        for alert in alerts:
            changed = alert.updated_at or alert.created_at
            if changed < start or (alert.id, changed) in sent:
                continue
            sent[(alert.id, changed)] = changed
            cursor = max(cursor, changed)
            if actor.role == Role.COMMS.value and not comms_may_see(alert):
                continue
            public = visible_alert(alert, actor, pseudonymize)
            kind = "new" if alert.updated_at is None else "changed"
            data = json.dumps(public.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
            yield f"event: {kind}\nid: {alert.id}\ndata: {data}\n\n"
            idle = 0.0
        horizon = _now() - 2 * LOOKBACK
        for key in [k for k, at in sent.items() if at < horizon]:
            del sent[key]
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= HEARTBEAT_SECONDS:
            idle = 0.0
            yield ": ping\n\n"


def _now() -> datetime:
    return datetime.now(UTC)
