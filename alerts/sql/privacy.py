"""Revealing a pseudonymised author (rules in :mod:`alerts.privacy`), audited like a span reveal.

Requests and approvals live in the audit chain itself (the request id is the request entry's seq):
the evidence of who asked, why, and who agreed cannot be edited without breaking the chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts import privacy
from alerts.audit import Actor
from alerts.lifecycle import AlertNotFound, LifecycleError
from alerts.model import Alert
from alerts.sql import audit
from alerts.sql.alerts import from_row
from alerts.sql.schema import alerts_table


def _alert(connection: Connection, alert_id: str) -> Alert:
    row = connection.execute(sa.select(alerts_table).where(alerts_table.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFound(alert_id)
    return from_row(row)


def _target(alert_id: str) -> str:
    return f"alert:{alert_id}"


def _requests(connection: Connection, alert_id: str) -> dict[int, privacy.RevealRequest]:
    return privacy.reveal_requests(audit.entries(connection, target=_target(alert_id), limit=None))


def reveal_author(
    connection: Connection, alert_id: str, justification: str, by: Actor, *,
    approval_required: bool, request_id: int | None,
) -> dict[str, Any]:
    """``{"status": "revealed", "author_id": ...}``, or ``{"status": "pending", "request": seq}`` when a
    second person must approve first. Every call is an audit entry; the author id never is."""
    alert = _alert(connection, alert_id)
    if not alert.author_pseudonymised:
        raise LifecycleError(f"alert {alert_id!r} shows its author already, or keeps no author id to reveal")
    now = datetime.now(UTC)
    target = _target(alert_id)
    if approval_required and request_id is None:
        audit.append(connection, by, privacy.ACTION_REVEAL_AUTHOR_REQUESTED, target, None,
                     {"justification": justification}, now)
        seq = audit.head(connection).seq
        return {"status": "pending", "request": seq}
    after: dict[str, Any] = {"justification": justification}
    if request_id is not None:
        request = privacy.check_approved(_requests(connection, alert_id).get(request_id), request_id, by)
        after.update({"request": request.id, "approved_by": request.approved_by})
    audit.append(connection, by, privacy.ACTION_REVEAL_AUTHOR, target, None, after, now)
    return {"status": "revealed", "author_id": alert.author_id}


def approve_author_reveal(connection: Connection, alert_id: str, request_id: int, by: Actor) -> None:
    _alert(connection, alert_id)
    request = privacy.check_approval(_requests(connection, alert_id).get(request_id), request_id, by)
    audit.append(connection, by, privacy.ACTION_REVEAL_AUTHOR_APPROVED, _target(alert_id), None,
                 {"request": request.id, "requested_by": request.requested_by}, datetime.now(UTC))
