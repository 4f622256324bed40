"""Cases, their items and notes, and legal holds (rules in :mod:`alerts.cases`), each change audited
in the caller's transaction (target ``case:<id>``).

:func:`held_alert_ids` and :func:`held_items` are what retention and erasure ask before removing
anything: an alert that is an item of a case under hold is kept as it is.

The caller takes :func:`alerts.sql.audit.lock` first in every changing transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import Actor
from alerts.cases import (
    MAX_CASE_ITEMS,
    Case,
    CaseItem,
    CaseNote,
    CaseNotFound,
    CaseStatus,
    new_case_id,
)
from alerts.lifecycle import AlertNotFound, LifecycleError
from alerts.sql import audit
from alerts.sql.engine import row_by_id
from alerts.sql.schema import alerts_table, case_items_table, case_notes_table, cases_table

# Ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500


def _target(case_id: str) -> str:
    return f"case:{case_id}"


def _from_row(row: sa.Row[Any], item_count: int = 0) -> Case:
    return Case.model_validate({**row._asdict(), "item_count": item_count})


def _row(connection: Connection, case_id: str, *, for_update: bool = False) -> sa.Row[Any]:
    return row_by_id(connection, cases_table, case_id, CaseNotFound, for_update=for_update)


def _item_count(connection: Connection, case_id: str) -> int:
    i = case_items_table.c
    return int(connection.scalar(sa.select(sa.func.count()).where(i.case_id == case_id)) or 0)


def create(connection: Connection, title: str, owner: str, by: Actor) -> Case:
    now = datetime.now(UTC)
    case_id = new_case_id()
    values: dict[str, Any] = {
        "id": case_id, "title": title, "owner": owner, "status": CaseStatus.OPEN.value,
        "created_at": now, "updated_at": now,
    }
    connection.execute(sa.insert(cases_table).values(**values))
    # Titles name matters, not people: kept in the audit so the log reads on its own.
    audit.append(connection, by, "case.create", _target(case_id), None,
                 {"title": title, "owner": owner}, now)
    return Case.model_validate(values)


def list_all(connection: Connection, *, status: CaseStatus | None, held: bool | None) -> list[Case]:
    c, i = cases_table.c, case_items_table.c
    counts = (
        sa.select(i.case_id, sa.func.count().label("n")).group_by(i.case_id).subquery()
    )
    statement = (
        sa.select(cases_table, sa.func.coalesce(counts.c.n, 0).label("n"))
        .outerjoin(counts, counts.c.case_id == c.id)
        .order_by(c.updated_at.desc(), c.id)
    )
    if status is not None:
        statement = statement.where(c.status == status.value)
    if held is not None:
        statement = statement.where(c.held_at.is_not(None) if held else c.held_at.is_(None))
    out = []
    for row in connection.execute(statement):
        data = row._asdict()
        out.append(Case.model_validate({**data, "item_count": data.pop("n")}))
    return out


def get(connection: Connection, case_id: str) -> Case:
    row = _row(connection, case_id)
    i, n = case_items_table.c, case_notes_table.c
    items = [
        CaseItem.model_validate(r._asdict())
        for r in connection.execute(
            sa.select(i.alert_id, i.added_at, i.added_by)
            .where(i.case_id == case_id)
            .order_by(i.added_at, i.alert_id)
        )
    ]
    notes = [
        CaseNote.model_validate(r._asdict())
        for r in connection.execute(
            sa.select(n.id, n.author, n.body, n.created_at).where(n.case_id == case_id).order_by(n.id)
        )
    ]
    return _from_row(row, len(items)).model_copy(update={"items": items, "notes": notes})


def update(
    connection: Connection,
    case_id: str,
    by: Actor,
    *,
    title: str | None,
    owner: str | None,
    status: CaseStatus | None,
) -> Case:
    row = _row(connection, case_id, for_update=True)
    changes = {
        key: value
        for key, value in (("title", title), ("owner", owner), ("status", status and status.value))
        if value is not None and value != getattr(row, key)
    }
    if not changes:
        return _from_row(row, _item_count(connection, case_id))
    now = datetime.now(UTC)
    connection.execute(
        sa.update(cases_table).where(cases_table.c.id == case_id).values(**changes, updated_at=now)
    )
    before = {key: getattr(row, key) for key in changes}
    audit.append(connection, by, "case.update", _target(case_id), before, changes, now)
    return _from_row(_row(connection, case_id), _item_count(connection, case_id))


def add_items(connection: Connection, case_id: str, alert_ids: Sequence[str], by: Actor) -> list[str]:
    """The ids added (those already in the case are left out); raises :class:`AlertNotFound` for
    the first id that is no alert, and nothing is added."""
    _row(connection, case_id, for_update=True)
    wanted = list(dict.fromkeys(alert_ids))
    existing: set[str] = set()
    for chunk in chunks(wanted):
        existing.update(connection.scalars(sa.select(alerts_table.c.id).where(alerts_table.c.id.in_(chunk))))
    missing = [alert_id for alert_id in wanted if alert_id not in existing]
    if missing:
        raise AlertNotFound(missing[0])
    present: set[str] = set()
    for chunk in chunks(wanted):
        present.update(_items_among(connection, case_id, chunk))
    added = [alert_id for alert_id in wanted if alert_id not in present]
    if _item_count(connection, case_id) + len(added) > MAX_CASE_ITEMS:
        raise LifecycleError(f"a case holds at most {MAX_CASE_ITEMS} items: open another case for the rest")
    if added:
        now = datetime.now(UTC)
        connection.execute(
            sa.insert(case_items_table),
            [{"case_id": case_id, "alert_id": a, "added_at": now, "added_by": by.name} for a in added],
        )
        _touch(connection, case_id, now)
        audit.append(connection, by, "case.add_items", _target(case_id), None, {"alert_ids": added}, now)
    return added


def remove_items(connection: Connection, case_id: str, alert_ids: Sequence[str], by: Actor) -> list[str]:
    row = _row(connection, case_id, for_update=True)
    if row.held_at is not None:
        # Removing an item would hand it back to retention: the hold is released first, on the record.
        raise LifecycleError(
            f"case {case_id!r} is under legal hold: release the hold before removing items"
        )
    i = case_items_table.c
    removed: list[str] = []
    for chunk in chunks(list(dict.fromkeys(alert_ids))):
        removed.extend(_items_among(connection, case_id, chunk))
    if removed:
        now = datetime.now(UTC)
        for chunk in chunks(removed):
            connection.execute(sa.delete(case_items_table).where(i.case_id == case_id, i.alert_id.in_(chunk)))
        _touch(connection, case_id, now)
        audit.append(connection, by, "case.remove_items", _target(case_id), {"alert_ids": removed}, None, now)
    return removed


def add_note(connection: Connection, case_id: str, body: str, by: Actor) -> CaseNote:
    _row(connection, case_id, for_update=True)
    now = datetime.now(UTC)
    note_id = connection.execute(
        sa.insert(case_notes_table)
        .values(case_id=case_id, author=by.name, body=body, created_at=now)
        .returning(case_notes_table.c.id)
    ).scalar_one()
    _touch(connection, case_id, now)
    # As for alert comments: who wrote when, not the text, which may quote personal data.
    audit.append(
        connection, by, "case.note", _target(case_id), None, {"note_id": note_id, "chars": len(body)}, now
    )
    return CaseNote(id=note_id, author=by.name, body=body, created_at=now)


def hold(connection: Connection, case_id: str, reason: str, by: Actor) -> Case:
    row = _row(connection, case_id, for_update=True)
    if row.held_at is not None:
        raise LifecycleError(
            f"case {case_id!r} is already under legal hold since {row.held_at.isoformat()} ({row.held_by})"
        )
    now = datetime.now(UTC)
    connection.execute(
        sa.update(cases_table)
        .where(cases_table.c.id == case_id)
        .values(held_at=now, held_by=by.name, hold_reason=reason, updated_at=now)
    )
    audit.append(connection, by, "case.hold", _target(case_id), None,
                 {"reason": reason, "items": _item_count(connection, case_id)}, now)
    return get(connection, case_id)


def release(connection: Connection, case_id: str, reason: str, by: Actor) -> Case:
    row = _row(connection, case_id, for_update=True)
    if row.held_at is None:
        raise LifecycleError(f"case {case_id!r} is not under legal hold")
    now = datetime.now(UTC)
    connection.execute(
        sa.update(cases_table)
        .where(cases_table.c.id == case_id)
        .values(held_at=None, held_by=None, hold_reason=None, updated_at=now)
    )
    before = {"held_at": audit.iso(row.held_at), "held_by": row.held_by, "reason": row.hold_reason}
    audit.append(connection, by, "case.release", _target(case_id), before, {"reason": reason}, now)
    return get(connection, case_id)


def held_alert_ids(connection: Connection, alert_ids: Iterable[str]) -> set[str]:
    """The ids among ``alert_ids`` that are items of a case under legal hold: never to be anonymised,
    deleted or erased while the hold lasts."""
    held: set[str] = set()
    for chunk in chunks(list(dict.fromkeys(alert_ids))):
        held.update(connection.scalars(held_items().where(case_items_table.c.alert_id.in_(chunk))))
    return held


def held_items(*columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """``SELECT alert_id[, columns] FROM`` the items of held cases, to filter or join on."""
    i, c = case_items_table.c, cases_table.c
    return (
        sa.select(i.alert_id, *columns)
        .join(cases_table, c.id == i.case_id)
        .where(c.held_at.is_not(None))
        .distinct()
    )


def _items_among(connection: Connection, case_id: str, alert_ids: list[str]) -> list[str]:
    i = case_items_table.c
    statement = sa.select(i.alert_id).where(i.case_id == case_id, i.alert_id.in_(alert_ids))
    return list(connection.scalars(statement))


def _touch(connection: Connection, case_id: str, now: datetime) -> None:
    connection.execute(sa.update(cases_table).where(cases_table.c.id == case_id).values(updated_at=now))


def chunks(ids: list[str]) -> Iterable[list[str]]:
    """``ids`` in slices short enough for one ``IN (...)`` on either database."""
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
