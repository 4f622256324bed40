"""Exporting a case (packaging in :mod:`alerts.case_export`): each item's alert or sample with its
comments and audit entries, evidence masked unless revealed with an audited justification, and the
``case.export`` audit entry that carries the manifest's SHA-256.

The caller takes :func:`alerts.sql.audit.lock` first: the reveals, the export entry and the audit
entries read into the documents belong to one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import Actor, AuditEntry
from alerts.case_export import Export, build_export
from alerts.sql import audit, review
from alerts.sql.alerts import from_row
from alerts.sql.cases import chunks, get
from alerts.sql.schema import alerts_table, case_items_table, comments_table

EXPORT_ACTION = "case.export"
# The alerts table's kind column (alert or sample) exists once sampling is merged; before, every
# item is an alert.
DEFAULT_KIND = "alert"


def export(connection: Connection, case_id: str, by: Actor, justification: str | None) -> Export:
    case = get(connection, case_id)
    now = datetime.now(UTC)
    a, i = alerts_table.c, case_items_table.c
    # Stable control numbers: the order items were stored in, not the order they joined the case.
    rows = connection.execute(
        sa.select(alerts_table, i.alert_id.label("item_id"), i.added_at.label("item_added_at"),
                  i.added_by.label("item_added_by"))
        .select_from(case_items_table.outerjoin(alerts_table, a.id == i.alert_id))
        .where(i.case_id == case_id)
        .order_by(a.created_at.is_(None), a.created_at, i.alert_id)
    ).all()
    revealed: dict[str, dict[int, str]] = {}
    if justification is not None:
        for row in rows:
            if row.id is not None:
                # The same audited reveal a reviewer makes for one alert, one entry per item.
                shown = review.reveal(connection, row.id, justification, by, None)
                revealed[row.id] = {r["index"]: r["text"] for r in shown}
    # Read after the reveals, so each item's audit shows the reveal made for this export.
    ids = [row.item_id for row in rows]
    entries = _grouped_audit(connection, ids)
    comments = _grouped_comments(connection, ids)
    items = [
        _item(row, revealed.get(row.item_id, {}), entries.get(row.item_id, []), comments.get(row.item_id, []))
        for row in rows
    ]
    summary = case.model_dump(mode="json", exclude={"items", "notes"})
    summary["notes"] = [note.model_dump(mode="json") for note in case.notes]
    result = build_export(
        summary, items, exporter={"name": by.name, "role": by.role}, exported_at=now,
        justification=justification,
    )
    audit.append(
        connection, by, EXPORT_ACTION, f"case:{case_id}", None,
        {
            "manifest_sha256": result.manifest_sha256,
            "item_count": len(items),
            # Every item's alert is named: "who saw this alert" has its answer in the log.
            "alert_ids": [item["alert"]["id"] for item in items],
            "evidence": result.manifest["evidence"],
            "justification": justification,
        },
        now,
    )
    return result


def _item(
    row: sa.Row[Any], revealed: dict[int, str], entries: list[dict[str, Any]], comments: list[dict[str, Any]]
) -> dict[str, Any]:
    mapping = row._mapping
    joined = {"added_at": mapping["item_added_at"].isoformat(), "added_by": mapping["item_added_by"]}
    if mapping["id"] is None:
        # Deleted before the case was held: the item is still accounted for, with what remains.
        return {"kind": DEFAULT_KIND, "alert": {"id": mapping["item_id"], "deleted": True},
                "case_item": joined, "comments": [], "review_history": [], "audit": entries}
    document = from_row(row).model_dump(
        mode="json", exclude={"comms_visible": True, "evidence": {"__all__": {"span"}}}
    )
    for index, text in revealed.items():
        document["evidence"][index]["span"] = text
    return {
        "kind": mapping.get("kind", DEFAULT_KIND) or DEFAULT_KIND,
        "alert": document,
        "case_item": joined,
        "comments": comments,
        # Who reviewed the item, when, and what they did (FINRA 3110.07's evidence of review).
        "review_history": [e for e in entries if e["action"] in _REVIEW_ACTIONS],
        "audit": entries,
    }


_REVIEW_ACTIONS = frozenset({"alert.transition", "alert.assign", "alert.comment", "alert.reveal"})


def _grouped_audit(connection: Connection, alert_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    a = audit.audit_table.c
    grouped: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks([f"alert:{alert_id}" for alert_id in alert_ids]):
        statement = sa.select(audit.audit_table).where(a.target.in_(chunk)).order_by(a.seq)
        for row in connection.execute(statement):
            entry = AuditEntry.model_validate(row._asdict()).model_dump(mode="json")
            grouped.setdefault(row.target.removeprefix("alert:"), []).append(entry)
    return grouped


def _grouped_comments(connection: Connection, alert_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    c = comments_table.c
    grouped: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks(alert_ids):
        statement = sa.select(c.id, c.alert_id, c.author, c.body, c.created_at).where(c.alert_id.in_(chunk))
        for row in connection.execute(statement.order_by(c.id)):
            comment = {"id": row.id, "author": row.author, "body": row.body}
            grouped.setdefault(row.alert_id, []).append({**comment, "created_at": row.created_at.isoformat()})
    return grouped


def export_entries(connection: Connection, manifest_sha256: str, case_id: str | None) -> list[AuditEntry]:
    """The ``case.export`` audit entries that carry ``manifest_sha256`` (of ``case_id``, if given)."""
    a = audit.audit_table.c
    statement = sa.select(audit.audit_table).where(a.action == EXPORT_ACTION).order_by(a.seq)
    if case_id is not None:
        statement = statement.where(a.target == f"case:{case_id}")
    found = [AuditEntry.model_validate(r._asdict()) for r in connection.execute(statement)]
    return [e for e in found if (e.after or {}).get("manifest_sha256") == manifest_sha256]
