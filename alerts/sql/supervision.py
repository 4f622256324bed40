"""The rows of the supervision report (rules in :mod:`alerts.supervision`): the items stored in a period
with their first review action from the audit chain."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.model import AlertKind
from alerts.sql.schema import alerts_table, audit_table
from alerts.supervision import REVIEW_ACTIONS, ReviewedItem

_TARGET_PREFIX = "alert:"


def reviewed_items(
    connection: Connection, start: datetime, end: datetime, as_of: datetime
) -> list[ReviewedItem]:
    """Items with ``start <= created_at < end``, each with the first review action at or before
    ``as_of`` (its instant and actor), if any."""
    c, a = alerts_table.c, audit_table.c
    target = sa.literal(_TARGET_PREFIX) + c.id
    # The audit sequence orders actions exactly (instants may tie): the smallest is the first.
    first = (
        sa.select(a.target, sa.func.min(a.seq).label("seq"))
        .where(a.action.in_(REVIEW_ACTIONS), a.at <= as_of, a.target.like(f"{_TARGET_PREFIX}%"))
        .group_by(a.target)
        .subquery()
    )
    review = audit_table.alias("review")
    statement = (
        sa.select(c.kind, c.population, c.created_at, review.c.at, review.c.actor)
        .select_from(alerts_table)
        .outerjoin(first, first.c.target == target)
        .outerjoin(review, review.c.seq == first.c.seq)
        .where(c.created_at >= start, c.created_at < end)
    )
    return [
        ReviewedItem(AlertKind(kind), population, created_at, reviewed_at, reviewer)
        for kind, population, created_at, reviewed_at, reviewer in connection.execute(statement)
    ]
