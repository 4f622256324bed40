"""Silences' rows (matching rules in :mod:`alerts.silences`); creating and expiring are audited."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import Actor
from alerts.silences import Silence, SilenceNotFound, SilenceRequest
from alerts.sql import audit
from alerts.sql.schema import silences_table


def create(connection: Connection, request: SilenceRequest, by: Actor) -> Silence:
    now = datetime.now(UTC)
    silence = Silence(
        id=secrets.token_hex(8), matchers=request.matchers, author=by.name, reason=request.reason,
        created_at=now, expires_at=request.expires_at,
    )
    row = silence.model_dump(mode="json")
    row.update(created_at=now, expires_at=silence.expires_at)
    connection.execute(sa.insert(silences_table).values(**row))
    after = {
        "matchers": row["matchers"], "reason": request.reason, "expires_at": audit.iso(request.expires_at)
    }
    audit.append(connection, by, "silence.create", f"silence:{silence.id}", None, after, now)
    return silence


def list_all(connection: Connection, *, active_only: bool) -> list[Silence]:
    s = silences_table.c
    statement = sa.select(silences_table).order_by(s.created_at, s.id)
    if active_only:
        statement = statement.where(s.expires_at > datetime.now(UTC))
    return [Silence.model_validate(row._asdict()) for row in connection.execute(statement)]


def active_silences(connection: Connection, now: datetime) -> list[Silence]:
    s = silences_table.c
    rows = connection.execute(sa.select(silences_table).where(s.expires_at > now))
    return [Silence.model_validate(row._asdict()) for row in rows]


def expire(connection: Connection, silence_id: str, by: Actor) -> Silence:
    s = silences_table.c
    now = datetime.now(UTC)
    row = connection.execute(sa.select(silences_table).where(s.id == silence_id)).first()
    if row is None:
        raise SilenceNotFound(silence_id)
    silence = Silence.model_validate(row._asdict())
    if not silence.active(now):
        return silence
    connection.execute(sa.update(silences_table).where(s.id == silence_id).values(expires_at=now))
    audit.append(
        connection, by, "silence.expire", f"silence:{silence_id}",
        {"expires_at": audit.iso(silence.expires_at)}, {"expires_at": audit.iso(now)}, now,
    )
    return silence.model_copy(update={"expires_at": now})
