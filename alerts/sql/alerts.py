"""Alerts and their occurrences: idempotent insertion (with grouping and silences), reads, counts,
and the changes the alert stream follows.

Writes are idempotent on ``Alert.id``: a replayed Kafka record never duplicates an alert. Every row
written moves ``changed_at`` to the writing transaction's time: on insert here, on any later change
through :func:`update`, the only UPDATE of the table. New alerts
that are neither silenced nor grouped into another are queued for the sinks in the same transaction
(:mod:`alerts.sql.outbox`).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.lifecycle import AlertNotFound
from alerts.model import Alert, AlertKind, AlertStatus, Severity
from alerts.query import AlertQuery, Change, Page, Position, decode_cursor, encode_cursor
from alerts.sql import outbox
from alerts.sql.engine import insert
from alerts.sql.schema import alerts_table, occurrences_table
from alerts.sql.silences import active_silences
from alerts.sql.values import storable

_SCALARS = (
    "id",
    "rule_id",
    "rule_title",
    "severity",
    "status",
    "jurisdiction",
    "source",
    "channel",
    "post_id",
    "author_id",
    "author_role",
    "lang",
    "post_created_at",
    "created_at",
    "policy_version",
    "remediation",
    "assignee",
    "verdict",
    "ticket",
    "updated_at",
    "acknowledged_at",
    "closed_at",
    "anonymised_at",
    "last_seen_at",
    "occurrences",
    "silenced",
    "evidence_total",
    "comms_visible",
    "four_eyes",
    "closed_by",
    "approval_verdict",
    "approval_ticket",
    "approval_requested_by",
    "qa_status",
    "purpose",
    "author_pseudonymised",
    "kind",
    "population",
)
_JSON_FIELDS = ("evidence", "explanation", "references", "origin")


def _to_row(alert: Alert, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(alert, name) for name in _SCALARS}
    row["severity"] = alert.severity.value
    row["status"] = alert.status.value
    row["kind"] = alert.kind.value
    row.update(alert.model_dump(mode="json", include=set(_JSON_FIELDS)))
    # The store's time, not the pipeline's created_at (stamped before the whole batch ran): the
    # closer to the commit, the fewer changes a stream sees appear behind its position.
    row["changed_at"] = now
    return row


def from_row(row: sa.Row[Any]) -> Alert:
    return Alert.model_validate(row._asdict())


def filters(q: AlertQuery) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``q`` other than its cursor and limit."""
    c = alerts_table.c
    where: list[sa.ColumnElement[bool]] = []
    if q.id:
        where.append(c.id.in_(q.id))
    if q.status:
        where.append(c.status.in_([s.value for s in q.status]))
    if q.severity:
        where.append(c.severity.in_([s.value for s in q.severity]))
    if q.jurisdiction:
        where.append(c.jurisdiction.in_(q.jurisdiction))
    if q.rule_id:
        where.append(c.rule_id.in_(q.rule_id))
    if q.comms_visible is not None:
        where.append(c.comms_visible.is_(q.comms_visible))
    if q.source:
        where.append(c.source.in_(q.source))
    if q.channel:
        where.append(c.channel.in_(q.channel))
    if q.assignee:
        where.append(c.assignee.in_(q.assignee))
    if q.qa:
        where.append(c.qa_status.in_([s.value for s in q.qa]))
    if q.kind:
        where.append(c.kind.in_([k.value for k in q.kind]))
    if q.population:
        where.append(c.population.in_(q.population))
    if q.since is not None:
        where.append(c.created_at >= q.since)
    if q.until is not None:
        where.append(c.created_at < q.until)
    return where


def require(connection: Connection, alert_id: str) -> None:
    """Raise :class:`AlertNotFound` unless ``alert_id`` is stored."""
    exists = sa.select(alerts_table.c.id).where(alerts_table.c.id == alert_id)
    if connection.execute(exists).first() is None:
        raise AlertNotFound(alert_id)


def add_many(
    connection: Connection, alerts: Sequence[Alert], now: datetime, group_window: timedelta | None
) -> list[str]:
    """See :meth:`alerts.store.SqlAlertStore.add_many`; ``group_window`` None: grouping off."""
    # Keep the first of duplicate ids in one batch, and the caller's order in the answer.
    by_id: dict[str, Alert] = {}
    for alert in alerts:
        if alert.id not in by_id:
            by_id[alert.id] = _storable(alert)
    o = occurrences_table.c
    # A hit grouped into another alert has no alerts row of its own: its occurrence row is what
    # makes the replay of that hit a no-op.
    seen = set(connection.scalars(sa.select(o.id).where(o.id.in_(list(by_id)))))
    fresh = [a for i, a in by_id.items() if i not in seen]
    silences = active_silences(connection, now)
    if silences:
        fresh = [
            a.model_copy(update={"silenced": True}) if any(s.matches(a, now) for s in silences) else a
            for a in fresh
        ]
    if group_window is None:
        inserted = _insert_alerts(connection, fresh, now)
    else:
        # Each drawn post is reviewed on its own: grouping samples would hide all but the first.
        samples = [a for a in fresh if a.kind is AlertKind.SAMPLE]
        hits = [a for a in fresh if a.kind is not AlertKind.SAMPLE]
        inserted = _insert_alerts(connection, samples, now)
        inserted |= _insert_grouped(connection, hits, now, group_window)
    new_ids = [alert_id for alert_id in by_id if alert_id in inserted]
    # Last: the outbox lock is held from here to the commit (see alerts.sql.outbox).
    outbox.enqueue(connection, new_ids, now)
    return new_ids


def _storable(alert: Alert) -> Alert:
    """The alert as the database can hold it: the one place a post's values are made storable, before
    any of them is bound (grouping looks rows up by author id, too)."""
    data = alert.model_dump()
    cleaned = storable(data)
    return alert if cleaned is data else Alert.model_validate(cleaned)


def _insert_alerts(connection: Connection, alerts: Sequence[Alert], now: datetime) -> set[str]:
    if not alerts:
        return set()
    rows = [_to_row(a, now) for a in alerts]
    statement = (
        insert(connection, alerts_table)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(alerts_table.c.id)
    )
    inserted = set(connection.scalars(statement, rows))
    occurrences = [_occurrence(a, a.id, now) for a in alerts if a.id in inserted]
    if occurrences:
        connection.execute(
            insert(connection, occurrences_table).on_conflict_do_nothing(index_elements=["id"]),
            occurrences,
        )
    return inserted


@dataclass
class _Target:
    """An alert hits may join: stored and open, or started earlier in the same batch."""

    id: str
    created_at: datetime
    post_created_at: datetime
    last_seen: datetime  # last_seen_at, or the post time while the alert has only its own hit
    stored_seen: datetime  # last_seen as stored before this batch


# Keys per lookup: (rule, author) pairs are bound as two parameters each, well under SQLite's limit.
_GROUP_KEYS_PER_QUERY = 400


def _insert_grouped(
    connection: Connection, alerts: Sequence[Alert], now: datetime, window: timedelta
) -> set[str]:
    """Each hit joins the newest open-or-in-review alert of its rule and author whose hits span its
    post time within ``window``, or starts a new alert.

    Post times, not arrival times, decide: a replay groups exactly as the first run did. Posts of
    one author share a Kafka partition (keyed by author), so one worker groups them. The batch's
    candidate alerts are read in one query and grouped in memory: one statement per hit made storage
    the worker's largest cost (bench/pipeline.py).
    """
    if not alerts:
        return set()
    # Process in post time order so that a batch groups the same whatever its internal order.
    ordered = sorted(alerts, key=lambda a: (a.post_created_at, a.id))
    targets = _group_targets(
        connection,
        {(a.rule_id, a.author_id) for a in ordered},
        ordered[0].post_created_at - window,
        ordered[-1].post_created_at + window,
    )
    starts: list[Alert] = []
    hits: dict[str, list[Alert]] = {}
    for alert in ordered:
        at = alert.post_created_at
        same = targets.setdefault((alert.rule_id, alert.author_id), [])
        joinable = [
            t
            for t in same
            if t.id != alert.id and t.last_seen >= at - window and t.post_created_at <= at + window
        ]
        if not joinable:
            starts.append(alert)
            same.append(_Target(alert.id, now, at, at, at))
            continue
        target = max(joinable, key=lambda t: (t.created_at, t.id))
        hits.setdefault(target.id, []).append(alert)
        target.last_seen = max(target.last_seen, at)
    inserted = _insert_alerts(connection, starts, now)
    rows = [_occurrence(hit, target_id, now) for target_id, joined in hits.items() for hit in joined]
    if not rows:
        return inserted
    statement = (
        insert(connection, occurrences_table)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(occurrences_table.c.id)
    )
    added = set(connection.scalars(statement, rows))
    c = alerts_table.c
    by_id = {t.id: t for same in targets.values() for t in same}
    for target_id, joined in hits.items():
        landed = [hit for hit in joined if hit.id in added]
        if not landed:
            continue  # another writer stored these hits first
        last_seen = max([by_id[target_id].stored_seen] + [hit.post_created_at for hit in landed])
        grouped = {"occurrences": c.occurrences + len(landed), "last_seen_at": last_seen}
        update(connection, c.id == target_id, grouped)
        inserted |= {hit.id for hit in landed}
    return inserted


def _group_targets(
    connection: Connection, keys: set[tuple[str, str]], earliest: datetime, latest: datetime
) -> dict[tuple[str, str], list[_Target]]:
    """The open alerts of these (rule, author) pairs whose hits could span a post time in the range."""
    c = alerts_table.c
    found: dict[tuple[str, str], list[_Target]] = {}
    pairs = sorted(keys)
    for chunk_start in range(0, len(pairs), _GROUP_KEYS_PER_QUERY):
        chunk = pairs[chunk_start : chunk_start + _GROUP_KEYS_PER_QUERY]
        seen = sa.func.coalesce(c.last_seen_at, c.post_created_at)
        columns = (c.id, c.rule_id, c.author_id, c.created_at, c.post_created_at, seen.label("seen"))
        statement = sa.select(*columns).where(
            sa.tuple_(c.rule_id, c.author_id).in_(chunk),
            c.status != AlertStatus.CLOSED.value,
            seen >= earliest,
            c.post_created_at <= latest,
        )
        for row in connection.execute(statement):
            target = _Target(row.id, row.created_at, row.post_created_at, row.seen, row.seen)
            found.setdefault((row.rule_id, row.author_id), []).append(target)
    return found


def _occurrence(alert: Alert, group_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": alert.id, "alert_id": group_id, "post_id": alert.post_id,
        "post_created_at": alert.post_created_at, "created_at": now,
    }


def occurrences(connection: Connection, alert_id: str) -> list[dict[str, Any]]:
    require(connection, alert_id)
    o = occurrences_table.c
    statement = (
        sa.select(o.id, o.post_id, o.post_created_at, o.created_at)
        .where(o.alert_id == alert_id)
        .order_by(o.post_created_at, o.id)
    )
    return [row._asdict() for row in connection.execute(statement)]


def get(connection: Connection, alert_id: str) -> Alert | None:
    row = connection.execute(sa.select(alerts_table).where(alerts_table.c.id == alert_id)).first()
    return from_row(row) if row is not None else None


def query(connection: Connection, q: AlertQuery) -> Page[Alert]:
    c = alerts_table.c
    where = filters(q)
    newest = q.order == "newest"
    if q.cursor is not None:
        after_created_at, after_id = decode_cursor(q.cursor)
        if newest:
            past = sa.or_(
                c.created_at < after_created_at, sa.and_(c.created_at == after_created_at, c.id < after_id)
            )
        else:
            past = sa.or_(
                c.created_at > after_created_at, sa.and_(c.created_at == after_created_at, c.id > after_id)
            )
        where.append(past)
    order = (c.created_at.desc(), c.id.desc()) if newest else (c.created_at.asc(), c.id.asc())
    statement = sa.select(alerts_table).where(*where).order_by(*order).limit(q.limit + 1)
    rows = connection.execute(statement).all()
    data = [from_row(row) for row in rows[: q.limit]]
    next_cursor = None
    if len(rows) > q.limit:
        last = data[-1]
        next_cursor = encode_cursor(last.created_at, last.id)
    return Page[Alert](data=data, next_cursor=next_cursor)


def update(connection: Connection, where: sa.ColumnElement[bool], values: dict[str, Any]) -> None:
    """Change the alert rows matching ``where``: the one UPDATE of the alerts table, so that no change
    escapes the alert stream. ``changed_at`` is the clock's, never a caller's notion of now (retention
    may be applied "as of" another date)."""
    connection.execute(sa.update(alerts_table).where(where).values(**values, changed_at=datetime.now(UTC)))


def _position_key() -> sa.Tuple:
    return sa.tuple_(alerts_table.c.changed_at, alerts_table.c.id)


def _change(row: sa.Row[Any]) -> Change:
    return Change(from_row(row), (row.changed_at, row.id))


def changes_after(connection: Connection, after: Position, limit: int) -> list[Change]:
    """The next ``limit`` changes after ``after``, in position order (a range scan of the
    ``(changed_at, id)`` index)."""
    c = alerts_table.c
    statement = (
        sa.select(alerts_table)
        .where(_position_key() > after)
        .order_by(c.changed_at, c.id)
        .limit(limit)
    )
    return [_change(row) for row in connection.execute(statement)]


def unseen_changes(
    connection: Connection, after: Position, before: Position, seen: Container[Position], limit: int
) -> list[Change]:
    """Changes strictly between ``after`` and ``before`` whose position is not in ``seen``: those
    committed after a reader had passed their position. Positions are read from the index alone,
    newest first (at most ``limit``); only the unseen rows are fetched whole."""
    c = alerts_table.c
    key = _position_key()
    positions = connection.execute(
        sa.select(c.changed_at, c.id)
        .where(key > after, key < before)
        .order_by(c.changed_at.desc(), c.id.desc())
        .limit(limit)
    )
    unseen = [row.id for row in positions if (row.changed_at, row.id) not in seen]
    if not unseen:
        return []
    rows = connection.execute(
        # Still behind ``before``: a row changed again since is found by the forward read instead.
        sa.select(alerts_table).where(c.id.in_(unseen), key < before).order_by(c.changed_at, c.id)
    )
    return [change for change in map(_change, rows) if change.position not in seen]


def count(connection: Connection, q: AlertQuery) -> int:
    statement = sa.select(sa.func.count()).select_from(alerts_table).where(*filters(q))
    return int(connection.execute(statement).scalar_one())


def count_open_by_severity(connection: Connection) -> dict[str, int]:
    c = alerts_table.c
    statement = (
        sa.select(c.severity, sa.func.count())
        .where(c.status == AlertStatus.OPEN.value)
        .group_by(c.severity)
    )
    counts = {severity.value: 0 for severity in Severity}
    for severity, n in connection.execute(statement):
        counts[severity] = int(n)
    return counts
