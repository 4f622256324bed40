"""The outbox's rows: alerts waiting for the sinks (``alert_outbox``) and each sink's cursor and lease
(``sink_cursors``). The delivery rules are in :mod:`alerts.outbox`.

Sequence numbers follow commit order, or a reader would skip an alert for ever: on PostgreSQL a
transaction that took number 10 can commit after one that took 11, and a reader that saw 11 and moved
its cursor past it never looks back. So :func:`enqueue` numbers its rows itself, after taking a
transaction-level lock that is held until commit (PostgreSQL: an advisory lock; SQLite: the write lock
every writing transaction already holds): a later number can only be given once the earlier one is
committed. The next number is one past the highest ever used, counting cursor positions as well, so a
number is never reused after rows are deleted (SQLite's rowid would reuse the highest).

The lock is taken last in the storing transaction, so writers hold it only for the time of the insert
and the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.model import AlertKind
from alerts.sql.engine import insert, is_sqlite
from alerts.sql.schema import alerts_table, outbox_table, sink_cursors_table

# Serialises outbox numbering on PostgreSQL (SQLite: BEGIN IMMEDIATE). Any fixed 64-bit number.
_PG_OUTBOX_LOCK = 0x7665_696C_6C67
LAST_ERROR_CHARS = 200


def _lock(connection: Connection) -> None:
    if not is_sqlite(connection):
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_OUTBOX_LOCK)))


def _head(connection: Connection) -> int:
    """The highest sequence number ever given (0 before the first)."""
    tops = sa.union_all(
        sa.select(sa.func.max(outbox_table.c.seq).label("top")),
        sa.select(sa.func.max(sink_cursors_table.c.position).label("top")),
    ).subquery()
    return int(connection.scalar(sa.select(sa.func.max(tops.c.top))) or 0)


def enqueue(connection: Connection, alert_ids: Sequence[str], now: datetime) -> int:
    """Queue those of ``alert_ids`` that are stored alerts of their own and not silenced (a hit grouped
    into another alert has no row of its own), oldest post first; returns how many. Call it last in the
    transaction that stored them. Samples are never queued: a random draw waits in the review queue,
    it is nothing to page or publish about."""
    if not alert_ids:
        return 0
    _lock(connection)
    base = _head(connection)
    c = alerts_table.c
    rank = sa.func.row_number().over(order_by=(c.post_created_at, c.id))
    queued = (
        sa.select((base + rank).label("seq"), c.id, sa.literal(now, outbox_table.c.enqueued_at.type))
        .where(c.id.in_(list(alert_ids)), c.silenced.is_(False), c.kind == AlertKind.ALERT.value)
    )
    columns = ["seq", "alert_id", "enqueued_at"]
    result = connection.execute(sa.insert(outbox_table).from_select(columns, queued))
    return int(result.rowcount)


def prune(connection: Connection) -> int:
    """Delete the rows every sink's cursor has passed; returns how many. No one reads them again: a
    sink registered later starts at the head. Without any cursor nothing is pruned (none registered
    yet). A sink dropped from the configuration keeps its cursor, and so holds back pruning, until its
    row is removed from ``sink_cursors``."""
    lowest = connection.scalar(sa.select(sa.func.min(sink_cursors_table.c.position)))
    if lowest is None:
        return 0
    result = connection.execute(sa.delete(outbox_table).where(outbox_table.c.seq <= lowest))
    return int(result.rowcount)


def register(connection: Connection, sinks: Sequence[str]) -> None:
    """A cursor for each new sink, at the head: it delivers what is stored from now on."""
    if not sinks:
        return
    _lock(connection)
    head = _head(connection)
    connection.execute(
        insert(connection, sink_cursors_table).on_conflict_do_nothing(index_elements=["sink"]),
        [{"sink": sink, "position": head, "attempts": 0} for sink in dict.fromkeys(sinks)],
    )


def lease(connection: Connection, sink: str, owner: str, now: datetime, ttl: timedelta) -> int | None:
    """Take or renew the lease of ``sink`` for ``owner`` (compare-and-set: free, already ours, or
    expired) until ``now + ttl``; returns the cursor position, or None if another owner holds it."""
    k = sink_cursors_table.c
    statement = (
        sa.update(sink_cursors_table)
        .where(k.sink == sink,
               sa.or_(k.lease_owner.is_(None), k.lease_owner == owner, k.lease_expires_at < now))
        .values(lease_owner=owner, lease_expires_at=now + ttl)
        .returning(k.position)
    )
    position = connection.scalar(statement)
    return None if position is None else int(position)


def holder(connection: Connection, sink: str, now: datetime) -> str | None:
    """The owner of an unexpired lease on ``sink``, if any."""
    k = sink_cursors_table.c
    return connection.scalar(
        sa.select(k.lease_owner).where(k.sink == sink, k.lease_owner.is_not(None), k.lease_expires_at >= now)
    )


def pending(connection: Connection, position: int, limit: int) -> list[tuple[int, sa.Row[Any]]]:
    """Up to ``limit`` queued alerts after ``position``, oldest first: ``(seq, alerts row)``."""
    o = outbox_table.c
    statement = (
        sa.select(o.seq, alerts_table)
        .join(alerts_table, alerts_table.c.id == o.alert_id)
        .where(o.seq > position)
        .order_by(o.seq)
        .limit(limit)
    )
    return [(int(row.seq), row) for row in connection.execute(statement)]


def advance(connection: Connection, sink: str, owner: str, expected: int, to: int, now: datetime) -> bool:
    """Move the cursor from ``expected`` to ``to`` and clear the failure record, only if ``owner``
    still holds the lease and nobody moved the cursor; False otherwise."""
    k = sink_cursors_table.c
    result = connection.execute(
        sa.update(sink_cursors_table)
        .where(k.sink == sink, k.lease_owner == owner, k.position == expected)
        .values(position=to, delivered_at=now, failing_since=None, attempts=0, last_error=None)
    )
    return result.rowcount == 1


def record_failure(connection: Connection, sink: str, owner: str, problem: str, now: datetime) -> int:
    """Note a failed attempt (while ``owner`` holds the lease); returns the consecutive failures."""
    k = sink_cursors_table.c
    attempts = connection.scalar(
        sa.update(sink_cursors_table)
        .where(k.sink == sink, k.lease_owner == owner)
        .values(failing_since=sa.func.coalesce(k.failing_since, sa.literal(now, k.failing_since.type)),
                attempts=k.attempts + 1,
                last_error=problem[:LAST_ERROR_CHARS])
        .returning(k.attempts)
    )
    return int(attempts or 0)


def release(connection: Connection, sink: str, owner: str) -> None:
    k = sink_cursors_table.c
    connection.execute(
        sa.update(sink_cursors_table).where(k.sink == sink, k.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def backlog(connection: Connection, sink: str) -> tuple[int, datetime | None]:
    """Alerts queued after the cursor of ``sink``, and when the oldest of them was queued."""
    k = sink_cursors_table.c
    o = outbox_table.c
    position = sa.select(k.position).where(k.sink == sink).scalar_subquery()
    count = connection.scalar(sa.select(sa.func.count()).select_from(outbox_table).where(o.seq > position))
    oldest = connection.scalar(sa.select(o.enqueued_at).where(o.seq > position).order_by(o.seq).limit(1))
    return int(count or 0), oldest


def cursors(connection: Connection) -> list[dict[str, Any]]:
    statement = sa.select(sink_cursors_table).order_by(sink_cursors_table.c.sink)
    return [row._asdict() for row in connection.execute(statement)]
