"""Counts for the analytics views: no content, so the ops role may read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.model import AlertStatus, Verdict
from alerts.query import AlertQuery
from alerts.sql.alerts import filters
from alerts.sql.engine import is_sqlite
from alerts.sql.schema import alerts_table

# Columns analytics may group by: bounded sets (no author, post or free text).
ANALYTICS_FIELDS = (
    "rule_id", "jurisdiction", "severity", "status", "source", "channel", "verdict", "silenced"
)


def _check_field(field: str) -> None:
    if field not in ANALYTICS_FIELDS:
        raise ValueError(f"cannot count by {field!r}: use one of {', '.join(ANALYTICS_FIELDS)}")


def count_by(connection: Connection, field: str, q: AlertQuery) -> dict[str, int]:
    _check_field(field)
    column = alerts_table.c[field]
    statement = sa.select(column, sa.func.count()).where(*filters(q)).group_by(column).order_by(column)
    return {_label(value): int(n) for value, n in connection.execute(statement)}


def count_over_time(
    connection: Connection, field: str, bucket: str, q: AlertQuery
) -> dict[datetime, dict[str, int]]:
    _check_field(field)
    if bucket not in ("hour", "day"):
        raise ValueError(f"bucket {bucket!r}: use hour or day")
    c = alerts_table.c
    if is_sqlite(connection):
        # Stored as fixed-width naive UTC text: truncating the text truncates the instant.
        pattern = "%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00"
        start: sa.ColumnElement[Any] = sa.func.strftime(pattern, c.created_at)
    else:
        start = sa.func.date_trunc(bucket, sa.func.timezone("UTC", c.created_at))
    column = c[field]
    statement = (
        sa.select(start.label("start"), column, sa.func.count())
        .where(*filters(q))
        .group_by(start, column)
        .order_by(start, column)
    )
    result: dict[datetime, dict[str, int]] = {}
    for at, value, n in connection.execute(statement):
        instant = datetime.fromisoformat(at) if isinstance(at, str) else at
        instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
        result.setdefault(instant, {})[_label(value)] = int(n)
    return result


def review_durations(connection: Connection, q: AlertQuery) -> dict[str, list[float]]:
    c = alerts_table.c
    statement = sa.select(c.created_at, c.acknowledged_at, c.closed_at).where(
        *filters(q), c.acknowledged_at.is_not(None)
    )
    durations: dict[str, list[float]] = {"acknowledge": [], "close": []}
    for created, acknowledged, closed in connection.execute(statement):
        # A producer clock ahead of ours could give a negative age: count it as immediate.
        durations["acknowledge"].append(max(0.0, (acknowledged - created).total_seconds()))
        if closed is not None:
            durations["close"].append(max(0.0, (closed - created).total_seconds()))
    return durations


def precision_by_rule(connection: Connection, q: AlertQuery) -> dict[str, dict[str, int]]:
    c = alerts_table.c
    statement = (
        sa.select(c.rule_id, c.verdict, sa.func.count())
        .where(*filters(q), c.status == AlertStatus.CLOSED.value, c.verdict.is_not(None))
        .group_by(c.rule_id, c.verdict)
    )
    result: dict[str, dict[str, int]] = {}
    for rule_id, verdict, n in connection.execute(statement):
        result.setdefault(rule_id, {v.value: 0 for v in Verdict})[verdict] = int(n)
    return result


def _label(value: object) -> str:
    # JSON-style booleans ("silenced"), so the API answers true/false, not Python's True/False.
    return str(value).lower() if isinstance(value, bool) else str(value)


def oldest_open_by_severity(connection: Connection) -> dict[str, datetime]:
    """Per severity, the ``created_at`` of the oldest item not closed and not silenced (a silence says
    "known, do not chase"); a severity with none is absent."""
    c = alerts_table.c
    statement = (
        sa.select(c.severity, sa.func.min(c.created_at))
        .where(c.status != AlertStatus.CLOSED.value, c.silenced.is_(False))
        .group_by(c.severity)
    )
    out: dict[str, datetime] = {}
    for severity, oldest in connection.execute(statement):
        if isinstance(oldest, str):  # min() over SQLite text loses the column type
            oldest = datetime.fromisoformat(oldest)
        out[severity] = oldest.replace(tzinfo=UTC) if oldest.tzinfo is None else oldest.astimezone(UTC)
    return out


def close_time_buckets(
    connection: Connection, buckets: tuple[float, ...]
) -> dict[str, tuple[list[int], int, float]]:
    """Per severity, over the items closed now: cumulative counts at or below each bound of ``buckets``
    (seconds from creation to closing), the count and the sum of seconds; counted in the database."""
    c = alerts_table.c
    if is_sqlite(connection):
        days = sa.func.julianday(c.closed_at) - sa.func.julianday(c.created_at)
        seconds: sa.ColumnElement[Any] = days * 86400.0
    else:
        seconds = sa.func.extract("epoch", c.closed_at - c.created_at)
    # A producer clock ahead of ours could give a negative duration: count it as immediate.
    seconds = sa.case((seconds < 0, 0.0), else_=seconds)
    columns = [sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in buckets]
    statement = (
        sa.select(c.severity, sa.func.count(), sa.func.sum(seconds), *columns)
        .where(c.status == AlertStatus.CLOSED.value, c.closed_at.is_not(None))
        .group_by(c.severity)
    )
    out: dict[str, tuple[list[int], int, float]] = {}
    for severity, count, total, *cumulative in connection.execute(statement):
        out[severity] = ([int(n or 0) for n in cumulative], int(count), float(total or 0.0))
    return out
