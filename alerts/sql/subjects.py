"""Finding and erasing what the store holds about one person (rules in :mod:`alerts.subjects`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts import subjects
from alerts.audit import Actor, AuditEntry
from alerts.model import Alert
from alerts.sql import audit, retention
from alerts.sql.alerts import from_row
from alerts.sql.schema import alerts_table, audit_table, comments_table


def find(connection: Connection, author_ids: Sequence[str]) -> dict[str, Any]:
    """``{"alerts": [Alert], "comments": [row dicts], "audit": [AuditEntry]}`` about these ids."""
    c = alerts_table.c
    rows = connection.execute(
        sa.select(alerts_table).where(c.author_id.in_(list(author_ids))).order_by(c.created_at, c.id)
    ).all()
    alerts: list[Alert] = [from_row(row) for row in rows]
    ids = [alert.id for alert in alerts]
    comments = [
        dict(row._mapping)
        for row in connection.execute(
            sa.select(comments_table).where(comments_table.c.alert_id.in_(ids)).order_by(comments_table.c.id)
        )
    ]
    a = audit_table.c
    entries = [
        AuditEntry.model_validate(row._asdict())
        for row in connection.execute(
            sa.select(audit_table).where(a.target.in_([f"alert:{i}" for i in ids])).order_by(a.seq)
        )
    ]
    return {"alerts": alerts, "comments": comments, "audit": entries}


def erase(
    connection: Connection, decisions: Sequence[subjects.Decision], reason: str, by: Actor, now: datetime
) -> None:
    """Anonymise the alerts ``decisions`` allow (as retention does), and audit every decision."""
    c = alerts_table.c
    for decision in decisions:
        target = f"alert:{decision.alert_id}"
        if not decision.erase:
            audit.append(connection, by, subjects.ACTION_ERASE_REFUSED, target, None,
                          {"reason": reason, "decision": decision.reason}, now)
            continue
        evidence = connection.execute(sa.select(c.evidence).where(c.id == decision.alert_id)).scalar_one()
        retention.anonymise(connection, decision.alert_id, list(evidence), now)
        audit.append(connection, by, subjects.ACTION_ERASE, target, None,
                     {"reason": reason, "decision": decision.reason}, now)
    erased = sum(d.erase for d in decisions)
    audit.append(connection, by, subjects.ACTION_REQUEST, "subject", None,
                 {"reason": reason, "erased": erased, "refused": len(decisions) - erased}, now)
