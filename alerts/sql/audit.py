"""The audit log's rows: appending to the hash chain (rules in :mod:`alerts.audit`) and reading it.

Every audited change appends its entry in its own transaction, after :func:`lock` was taken first
in that transaction, so the chain never forks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import GENESIS_HASH, Actor, AuditEntry, entry_hash, verify_chain
from alerts.sql.engine import is_sqlite
from alerts.sql.schema import audit_table

# Serialises audit appends on PostgreSQL so the hash chain never forks (SQLite: BEGIN IMMEDIATE).
_PG_AUDIT_LOCK = 0x7665_696C_6C66


def lock(connection: Connection) -> None:
    # Taken first in every audited transaction, so writers queue instead of deadlocking.
    if not is_sqlite(connection):
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_AUDIT_LOCK)))


def append(
    connection: Connection,
    by: Actor,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> None:
    a = audit_table.c
    last = connection.execute(sa.select(a.seq, a.hash).order_by(a.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
    # Stored and hashed at microsecond precision in UTC, so the hash survives the round trip.
    at = at.astimezone(UTC)
    digest = entry_hash(
        prev, seq=seq, at=at, actor=by.name, role=by.role, action=action, target=target,
        before=before, after=after,
    )
    connection.execute(
        sa.insert(audit_table).values(
            seq=seq, at=at, actor=by.name, role=by.role, action=action, target=target,
            before=before, after=after, prev_hash=prev, hash=digest,
        )
    )


def iso(at: datetime | None) -> str | None:
    """An instant as an audit entry's JSON value records it."""
    return at.isoformat() if at is not None else None


def entries(
    connection: Connection, *, target: str | None = None, after_seq: int = 0, limit: int | None = 100
) -> list[AuditEntry]:
    """Oldest first, from ``after_seq`` on (pagination by sequence number)."""
    a = audit_table.c
    statement = sa.select(audit_table).where(a.seq > after_seq).order_by(a.seq)
    if target is not None:
        statement = statement.where(a.target == target)
    if limit is not None:
        statement = statement.limit(limit)
    return [AuditEntry.model_validate(row._asdict()) for row in connection.execute(statement)]


def verify(connection: Connection) -> int:
    """Entries checked; raises :class:`alerts.audit.ChainBroken` naming the first bad entry."""
    return verify_chain(entries(connection, limit=None))
