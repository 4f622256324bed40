"""Applying a retention policy (rules in :mod:`alerts.retention`) to closed alerts, one audit entry
per alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import Actor
from alerts.model import AlertStatus
from alerts.retention import ANONYMISED, RetentionPolicy, RetentionReport, anonymised_values
from alerts.sql import audit
from alerts.sql.alerts import update
from alerts.sql.cases import held_items
from alerts.sql.schema import alerts_table, case_items_table, comments_table, occurrences_table


def due(policy: RetentionPolicy, now: datetime) -> sa.ColumnElement[bool] | None:
    """The closed alerts past their jurisdiction's age, or None when the policy keeps everything."""
    c = alerts_table.c
    named, default = policy.cutoffs(now)
    closed_at = sa.func.coalesce(c.closed_at, c.updated_at, c.created_at)
    past = [sa.and_(c.jurisdiction == j, closed_at < cutoff) for j, cutoff in named.items()]
    if default is not None:
        past.append(sa.and_(c.jurisdiction.not_in(list(named)), closed_at < default))
    if not past:
        return None
    where = [c.status == AlertStatus.CLOSED.value, sa.or_(*past)]
    if policy.mode == "anonymise":
        # An alert already anonymised is not counted again.
        where.append(c.anonymised_at.is_(None))
    return sa.and_(*where)


def apply(
    connection: Connection,
    due: sa.ColumnElement[bool],
    policy: RetentionPolicy,
    by: Actor,
    now: datetime,
    dry_run: bool,
) -> RetentionReport:
    c = alerts_table.c
    report = RetentionReport(mode=policy.mode, dry_run=dry_run)
    _count_held(connection, due, report)
    # Held alerts are filtered in SQL, in this transaction: a hold placed before it began is seen.
    not_held = c.id.not_in(held_items())
    rows = connection.execute(sa.select(c.id, c.jurisdiction, c.evidence).where(due, not_held)).all()
    for row in rows:
        report.by_jurisdiction[row.jurisdiction] = report.by_jurisdiction.get(row.jurisdiction, 0) + 1
        if dry_run:
            continue
        target = c.id == row.id
        if policy.mode == "delete":
            # Explicit, not only ON DELETE CASCADE: SQLite enforces it only with the pragma.
            connection.execute(sa.delete(comments_table).where(comments_table.c.alert_id == row.id))
            connection.execute(sa.delete(occurrences_table).where(occurrences_table.c.alert_id == row.id))
            connection.execute(sa.delete(alerts_table).where(target))
        else:
            anonymise(connection, row.id, list(row.evidence), now)
        audit.append(
            connection, by, f"retention.{policy.mode}", f"alert:{row.id}", None,
            {"jurisdiction": row.jurisdiction}, now,
        )
    return report


def _count_held(connection: Connection, due: sa.ColumnElement[bool], report: RetentionReport) -> None:
    c, i = alerts_table.c, case_items_table.c
    held = held_items(i.case_id, c.jurisdiction).join(alerts_table, c.id == i.alert_id).where(due)
    jurisdictions: dict[str, str] = {}
    for row in connection.execute(held):
        jurisdictions[row.alert_id] = row.jurisdiction
        report.held_by_case[row.case_id] = report.held_by_case.get(row.case_id, 0) + 1
    for jurisdiction in jurisdictions.values():
        report.held_by_jurisdiction[jurisdiction] = report.held_by_jurisdiction.get(jurisdiction, 0) + 1
def anonymise(connection: Connection, alert_id: str, evidence: list[dict[str, Any]], now: datetime) -> None:
    """Remove an alert's personal data (``anonymised_values``), its occurrences' post ids and its
    comments' text; shared by retention and by a data subject's erasure (``alerts.sql.subjects``)."""
    update(connection, alerts_table.c.id == alert_id, {**anonymised_values(evidence), "anonymised_at": now})
    occurrences = occurrences_table.c
    connection.execute(
        sa.update(occurrences_table).where(occurrences.alert_id == alert_id).values(post_id=ANONYMISED)
    )
    connection.execute(
        sa.update(comments_table).where(comments_table.c.alert_id == alert_id).values(body=ANONYMISED)
    )
