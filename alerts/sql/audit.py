"""The audit log's rows: appending to the hash chain (rules in :mod:`alerts.audit`) and reading it.

Every audited change appends its entry in its own transaction, after :func:`lock` was taken first
in that transaction, so the chain never forks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import (
    EMPTY_HEAD,
    GENESIS_HASH,
    Actor,
    Anchor,
    AuditEntry,
    ChainHead,
    entry_hash,
    verify_chain,
)
from alerts.sql.engine import is_sqlite
from alerts.sql.schema import audit_table

# Serialises audit appends on PostgreSQL so the hash chain never forks (SQLite: BEGIN IMMEDIATE).
_PG_AUDIT_LOCK = 0x7665_696C_6C66
# Entries read per query while verifying: memory stays bounded whatever the length of the log.
VERIFY_BATCH = 1000


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


def head(connection: Connection) -> ChainHead:
    """The newest entry's sequence number and hash (:data:`alerts.audit.EMPTY_HEAD` for an empty log)."""
    a = audit_table.c
    last = connection.execute(sa.select(a.seq, a.hash).order_by(a.seq.desc()).limit(1)).first()
    return ChainHead(seq=last.seq, hash=last.hash) if last is not None else EMPTY_HEAD


def verify(connection: Connection, anchors: Iterable[Anchor] = ()) -> ChainHead:
    """The verified head; raises :class:`alerts.audit.ChainBroken` naming the first bad entry, or
    :class:`alerts.audit.ChainTruncated` when the log ends before a checkpoint.

    Entries come in keyset batches up to the head read first (appends made meanwhile are left for the
    next verification), so memory does not grow with the log.
    """
    return verify_chain(_stream(connection, head(connection).seq), anchors)


def _stream(connection: Connection, up_to: int) -> Iterator[AuditEntry]:
    a = audit_table.c
    after = 0
    while after < up_to:
        statement = (
            sa.select(audit_table).where(a.seq > after, a.seq <= up_to).order_by(a.seq).limit(VERIFY_BATCH)
        )
        rows = connection.execute(statement).all()
        if not rows:
            return
        for row in rows:
            yield AuditEntry.model_validate(row._asdict())
        after = rows[-1].seq
