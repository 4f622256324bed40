"""Review changes (rules in :mod:`alerts.lifecycle` and :mod:`alerts.levels`): transitions, four-eyes
approvals, QA outcomes, assignment, comments, bulk actions, revealing personal data and recording
views, each audited in the caller's transaction.

The caller takes :func:`alerts.sql.audit.lock` first in that transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts import levels
from alerts.audit import Actor
from alerts.levels import AwaitingApproval, QaSampling
from alerts.lifecycle import MAX_COMMENT_CHARS, AlertNotFound, LifecycleError, check_text, check_transition
from alerts.model import Alert, AlertStatus, QaStatus, Verdict
from alerts.query import AlertQuery
from alerts.sql import audit
from alerts.sql.alerts import filters, from_row, require, update
from alerts.sql.engine import row_by_id
from alerts.sql.schema import alerts_table, comments_table
from alerts.views import ViewRecord

# A bulk action touches at most this many alerts: beyond, the caller narrows the filter.
MAX_BULK = 1000


def transition(
    connection: Connection,
    alert_id: str,
    to: AlertStatus,
    by: Actor,
    reason: str | None,
    *,
    verdict: Verdict | None,
    ticket: str | None,
    comment: str | None,
    qa: QaSampling,
) -> Alert:
    """Apply one transition and its optional ``comment``; only the transition can be refused.

    A close that needs a second reviewer (:func:`alerts.levels.approval_reasons`) is stored as a
    request instead: the alert waits in ``pending_approval`` with the verdict asked for.
    """
    alert = _get_for_update(connection, alert_id)
    levels.check_may_act(alert, by)
    if alert.status is AlertStatus.PENDING_APPROVAL:
        raise AwaitingApproval(alert)
    check_transition(alert_id, alert.status, to, verdict=verdict, reason=reason, ticket=ticket)
    if to is AlertStatus.CLOSED and verdict is not None:
        reasons = levels.approval_reasons(alert, verdict, by)
        if reasons:
            return _request_approval(connection, alert, verdict, ticket, reason, reasons, comment, by)
    closing = to is AlertStatus.CLOSED
    drawn = closing and qa.applies(alert, by)
    return _move(
        connection, alert, to, by, reason, verdict=verdict, ticket=ticket, comment=comment,
        # A QA draw concerns one closure: reopening ends it (its outcome, if any, stays in the audit).
        extra={
            "closed_by": by.name if closing else None,
            "qa_status": QaStatus.PENDING.value if drawn else None,
        },
        audit_extra={"qa_sample": True} if drawn else {},
    )


def _move(
    connection: Connection,
    alert: Alert,
    to: AlertStatus,
    by: Actor,
    reason: str | None,
    *,
    verdict: Verdict | None,
    ticket: str | None,
    comment: str | None,
    extra: dict[str, Any],
    audit_extra: dict[str, Any],
    action: str = "alert.transition",
) -> Alert:
    now = datetime.now(UTC)
    # Reopening clears the conclusion: precision counts only alerts that are closed now.
    values: dict[str, Any] = {
        "status": to.value,
        "verdict": verdict.value if verdict is not None else None,
        "ticket": ticket,
        "updated_at": now,
        # Time to acknowledge counts from creation to the first move out of open, whatever it is.
        "acknowledged_at": alert.acknowledged_at or now,
        "closed_at": now if to is AlertStatus.CLOSED else None,
        **extra,
    }
    update(connection, alerts_table.c.id == alert.id, values)
    before = {"status": alert.status.value, "verdict": alert.verdict, "ticket": alert.ticket}
    after = {
        "status": to.value, "verdict": values["verdict"], "ticket": ticket, "reason": reason, **audit_extra
    }
    audit.append(connection, by, action, f"alert:{alert.id}", before, after, now)
    if comment is not None:
        _add_comment(connection, alert.id, comment, by)
    return from_row(_select(connection, alert.id))


def _request_approval(
    connection: Connection,
    alert: Alert,
    verdict: Verdict,
    ticket: str | None,
    reason: str | None,
    reasons: list[str],
    comment: str | None,
    by: Actor,
) -> Alert:
    extra = {
        "verdict": None, "ticket": None, "closed_at": None,
        "approval_verdict": verdict.value, "approval_ticket": ticket, "approval_requested_by": by.name,
    }
    return _move(
        connection, alert, AlertStatus.PENDING_APPROVAL, by, reason, verdict=None, ticket=None,
        comment=comment, extra=extra, action="alert.approval_requested",
        audit_extra={
            "requested_verdict": verdict.value, "requested_ticket": ticket, "needs_approval": reasons
        },
    )


def decide(
    connection: Connection, alert_id: str, approve: bool, by: Actor, reason: str | None, comment: str | None
) -> Alert:
    """Approve (→ closed with the verdict asked for) or reject (→ in_review, with a reason) a closure
    awaiting approval; only a second-level reviewer other than the one who asked may."""
    alert = _get_for_update(connection, alert_id)
    levels.check_may_decide(alert, by)
    cleared = {"approval_verdict": None, "approval_ticket": None, "approval_requested_by": None}
    before_extra = {"requested_by": alert.approval_requested_by, "requested_verdict": alert.approval_verdict}
    if approve:
        verdict, ticket = alert.approval_verdict, alert.approval_ticket
        check_transition(
            alert_id, alert.status, AlertStatus.CLOSED, verdict=verdict, reason=reason, ticket=ticket
        )
        return _move(
            connection, alert, AlertStatus.CLOSED, by, reason,
            verdict=verdict, ticket=ticket, comment=comment,
            extra={**cleared, "closed_by": by.name, "qa_status": None}, action="alert.approval",
            audit_extra={"decision": "approved", **before_extra},
        )
    check_transition(alert_id, alert.status, AlertStatus.IN_REVIEW, verdict=None, reason=reason, ticket=None)
    return _move(
        connection, alert, AlertStatus.IN_REVIEW, by, reason, verdict=None, ticket=None, comment=comment,
        extra=cleared, action="alert.approval", audit_extra={"decision": "rejected", **before_extra},
    )


def record_qa(
    connection: Connection, alert_id: str, outcome: QaStatus, comment: str | None, by: Actor
) -> Alert:
    """A second-level reviewer's QA outcome on a closure drawn for QA; a disagreement says why."""
    if outcome is QaStatus.PENDING:
        raise LifecycleError("a QA outcome is agree or disagree")
    check_text("comment", comment, MAX_COMMENT_CHARS, required=outcome is QaStatus.DISAGREE)
    alert = _get_for_update(connection, alert_id)
    levels.check_may_qa(alert, by)
    now = datetime.now(UTC)
    update(connection, alerts_table.c.id == alert_id, {"qa_status": outcome.value, "updated_at": now})
    comment_id = _add_comment(connection, alert_id, comment, by)["id"] if comment is not None else None
    audit.append(
        connection, by, "alert.qa", f"alert:{alert_id}",
        {"qa_status": QaStatus.PENDING.value, "closed_by": alert.closed_by, "verdict": alert.verdict},
        {"qa_status": outcome.value, "comment_id": comment_id}, now,
    )
    return from_row(_select(connection, alert_id))


def assign(connection: Connection, alert_id: str, assignee: str | None, by: Actor) -> Alert:
    alert = _get_for_update(connection, alert_id)
    levels.check_may_assign(alert, assignee, by)
    now = datetime.now(UTC)
    update(connection, alerts_table.c.id == alert_id, {"assignee": assignee, "updated_at": now})
    audit.append(
        connection, by, "alert.assign", f"alert:{alert_id}", {"assignee": alert.assignee},
        {"assignee": assignee}, now,
    )
    return alert.model_copy(update={"assignee": assignee, "updated_at": now})


def comment(connection: Connection, alert_id: str, body: str, by: Actor) -> dict[str, Any]:
    _get_for_update(connection, alert_id)
    return _add_comment(connection, alert_id, body, by)


def _add_comment(connection: Connection, alert_id: str, body: str, by: Actor) -> dict[str, Any]:
    now = datetime.now(UTC)
    comment_id = connection.execute(
        sa.insert(comments_table)
        .values(alert_id=alert_id, author=by.name, body=body, created_at=now)
        .returning(comments_table.c.id)
    ).scalar_one()
    # The audit keeps who commented when, not the text: it may quote personal data.
    audit.append(
        connection, by, "alert.comment", f"alert:{alert_id}", None,
        {"comment_id": comment_id, "chars": len(body)}, now,
    )
    return {"id": comment_id, "alert_id": alert_id, "author": by.name, "body": body, "created_at": now}


def comments(connection: Connection, alert_id: str) -> list[dict[str, Any]]:
    require(connection, alert_id)
    c = comments_table.c
    statement = sa.select(c.id, c.alert_id, c.author, c.body, c.created_at).where(c.alert_id == alert_id)
    return [row._asdict() for row in connection.execute(statement.order_by(c.id))]


def bulk_transition(
    connection: Connection,
    q: AlertQuery,
    to: AlertStatus,
    by: Actor,
    reason: str | None,
    *,
    verdict: Verdict | None,
    ticket: str | None,
    comment: str | None,
    qa: QaSampling,
) -> tuple[list[Alert], dict[str, str]]:
    """``(changed alerts, {skipped id: why})``: an alert the rules refuse is skipped, not fatal."""
    changed: list[Alert] = []
    skipped: dict[str, str] = {}
    for alert_id in _bulk_ids(connection, q):
        try:
            changed.append(
                transition(
                    connection, alert_id, to, by, reason,
                    verdict=verdict, ticket=ticket, comment=comment, qa=qa,
                )
            )
        except LifecycleError as exc:
            skipped[alert_id] = str(exc)
    return changed, skipped


def bulk_assign(
    connection: Connection, q: AlertQuery, assignee: str | None, by: Actor
) -> tuple[list[str], dict[str, str]]:
    changed: list[str] = []
    skipped: dict[str, str] = {}
    for alert_id in _bulk_ids(connection, q):
        try:
            assign(connection, alert_id, assignee, by)
        except LifecycleError as exc:
            skipped[alert_id] = str(exc)
            continue
        changed.append(alert_id)
    return changed, skipped


def _bulk_ids(connection: Connection, q: AlertQuery) -> list[str]:
    c = alerts_table.c
    ids = list(
        connection.scalars(
            sa.select(c.id).where(*filters(q)).order_by(c.created_at, c.id).limit(MAX_BULK + 1)
        )
    )
    if len(ids) > MAX_BULK:
        raise LifecycleError(
            f"the filter matches more than {MAX_BULK} alerts; narrow it (status, rule, since...)"
        )
    return ids


def _get_for_update(connection: Connection, alert_id: str) -> Alert:
    return from_row(_select(connection, alert_id, for_update=True))


def _select(connection: Connection, alert_id: str, *, for_update: bool = False) -> sa.Row[Any]:
    return row_by_id(connection, alerts_table, alert_id, AlertNotFound, for_update=for_update)


def reveal(
    connection: Connection, alert_id: str, justification: str, by: Actor, index: int | None
) -> list[dict[str, Any]]:
    alert = _get_for_update(connection, alert_id)
    personal = [(i, e) for i, e in enumerate(alert.evidence) if e.personal and e.span is not None]
    if index is not None:
        if not 0 <= index < len(alert.evidence):
            count = len(alert.evidence)
            raise LifecycleError(
                f"index {index} is out of range: alert {alert_id!r} has {count} evidence items"
            )
        personal = [(i, e) for i, e in personal if i == index]
    revealed = [{"index": i, "detector": e.detector, "type": e.type, "text": e.span} for i, e in personal]
    # The audit records which spans were shown and why, never the spans themselves.
    audit.append(
        connection, by, "alert.reveal", f"alert:{alert_id}", None,
        {"justification": justification, "evidence": [r["index"] for r in revealed]},
        datetime.now(UTC),
    )
    return revealed


def record_views(connection: Connection, views: Sequence[ViewRecord]) -> None:
    """One ``alert.view`` entry per record (rules in :mod:`alerts.views`)."""
    for view in views:
        after = None
        if view.count is not None:
            after = {
                "count": view.count, "first_at": audit.iso(view.first_at), "last_at": audit.iso(view.last_at)
            }
        audit.append(connection, view.by, "alert.view", f"alert:{view.alert_id}", None, after, view.at)
