"""The changes the alert stream follows: ``changed_at`` moves with every write of an alert row, and
the store pages through changes in ``(changed_at, id)`` order on an index. Both backends."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, AlertStatus, Verdict
from alerts.query import AlertQuery, Position
from alerts.retention import RetentionPolicy
from alerts.sql.schema import alerts_table
from alerts.store import SqlAlertStore

ORIGIN: Position = (datetime(1970, 1, 1, tzinfo=UTC), "")
ALERTS_PACKAGE = Path(__file__).resolve().parents[2] / "alerts"


def changed_at(store: SqlAlertStore, alert_id: str) -> datetime:
    c = alerts_table.c
    with store.engine.connect() as connection:
        value: datetime = connection.execute(sa.select(c.changed_at).where(c.id == alert_id)).scalar_one()
    return value


@contextmanager
def moves(store: SqlAlertStore, alert_id: str) -> Iterator[None]:
    """The block must move the alert's ``changed_at`` forward, to the clock's time during the block."""
    before = changed_at(store, alert_id)
    start = datetime.now(UTC)
    yield
    after = changed_at(store, alert_id)
    assert after > before, f"changed_at of {alert_id} did not move"
    assert start <= after <= datetime.now(UTC)


def test_every_write_of_an_alert_moves_changed_at(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    reviewed, bulk, grouped, kept = (make_alert(rule_id=f"fr.rule{i}") for i in range(4))
    start = datetime.now(UTC)
    store.add_many([reviewed, bulk, grouped, kept])
    # Stored: the store's time, not the pipeline's created_at (2025-03-01 in these alerts).
    for alert in (reviewed, bulk, grouped, kept):
        assert start <= changed_at(store, alert.id) <= datetime.now(UTC)

    with moves(store, reviewed.id):
        store.transition(reviewed.id, AlertStatus.ACKNOWLEDGED, CLI_ACTOR)
    with moves(store, reviewed.id):
        store.assign(reviewed.id, "c.dupont", CLI_ACTOR)
    only_bulk = AlertQuery(rule_id=[bulk.rule_id])
    with moves(store, bulk.id):
        store.bulk_transition(only_bulk, AlertStatus.IN_REVIEW, CLI_ACTOR)
    with moves(store, bulk.id):
        store.bulk_assign(only_bulk, "c.dupont", CLI_ACTOR)

    # A later hit of the same rule and author grouped into the alert (an occurrence) changes it.
    grouping = SqlAlertStore(store.engine, group_window=timedelta(hours=1))
    hit = make_alert(rule_id=grouped.rule_id, created_at=grouped.post_created_at + timedelta(minutes=5))
    with moves(store, grouped.id):
        assert grouping.add_many([hit]) == [hit.id]
    assert store.get(grouped.id).occurrences == 2  # type: ignore[union-attr]

    # Retention applied "as of" a later date anonymises the closed alert; changed_at is still the
    # clock's time (see `moves`), or a stream would stand in the future.
    store.transition(kept.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)
    policy = RetentionPolicy.from_settings({"*": 30}, "anonymise")
    next_year = datetime.now(UTC) + timedelta(days=365)
    with moves(store, kept.id):
        assert store.apply_retention(policy, CLI_ACTOR, now=next_year).total == 1

    # A comment or a reveal leaves the alert as it was (comments are not part of what is streamed).
    before = changed_at(store, reviewed.id)
    store.comment(reviewed.id, "called the author", CLI_ACTOR)
    store.reveal(reviewed.id, "DPO request 7: confirm the address", CLI_ACTOR)
    assert changed_at(store, reviewed.id) == before


def test_only_one_function_updates_alert_rows() -> None:
    """Every change goes through ``alerts.sql.alerts.update``, which moves changed_at: an UPDATE of the
    alerts table written anywhere else would change alerts behind the stream's back."""
    found = []
    for path in sorted(ALERTS_PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for function in functions:
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and ast.unparse(node.func) in ("sa.update", "update", "sqlalchemy.update")
                    and [ast.unparse(a) for a in node.args] == ["alerts_table"]
                ):
                    found.append(f"{path.relative_to(ALERTS_PACKAGE.parent)}:{function.name}")
    assert found == ["alerts/sql/alerts.py:update"]


def test_changes_are_paged_in_position_order_however_many_share_an_instant(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    batch = [make_alert() for _ in range(1200)]
    store.add_many(batch)  # one transaction: 1,200 changes at one instant
    pages, position = [], ORIGIN
    while page := store.changes_after(position, limit=500):
        pages.append(page)
        position = page[-1].position
    assert [len(page) for page in pages] == [500, 500, 200]
    changes = [change for page in pages for change in page]
    assert [c.position for c in changes] == sorted({c.position for c in changes})  # increasing, unique
    assert [c.alert.id for c in changes] == sorted(a.id for a in batch)
    assert {c.position[0] for c in changes} == {changed_at(store, batch[0].id)}
    assert changes[0].alert == store.get(changes[0].alert.id)

    store.assign(batch[7].id, "c.dupont", CLI_ACTOR)
    [after] = store.changes_after(position)
    assert after.alert.id == batch[7].id and after.alert.assignee == "c.dupont"
    assert store.changes_after(after.position) == []


def test_unseen_changes_are_those_committed_behind_a_position(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    early, seen, late = make_alert(), make_alert(), make_alert()
    store.add_many([early])
    store.add_many([seen])
    [early_change, seen_change] = store.changes_after(ORIGIN)
    position = seen_change.position
    # A writer stamped `late` before `seen` was stored but committed after a reader passed `seen`.
    store.add_many([late])
    stamp = seen_change.position[0] - timedelta(microseconds=1)
    with store.engine.begin() as connection:
        connection.execute(
            sa.update(alerts_table).where(alerts_table.c.id == late.id).values(changed_at=stamp)
        )
    assert store.changes_after(position) == []

    passed = {early_change.position, seen_change.position}
    [found] = store.unseen_changes(ORIGIN, position, passed)
    assert found.alert.id == late.id and found.position == (stamp, late.id)
    assert store.unseen_changes(ORIGIN, position, passed | {found.position}) == []
    assert store.unseen_changes(early_change.position, position, set()) == [found]  # bounds are exclusive


def test_the_stream_reads_changes_on_the_index_without_sorting(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    store.add_many([make_alert() for _ in range(50)])
    executed: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM alerts" in statement and "changed_at" in statement:
            executed.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.changes_after(ORIGIN, limit=10)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    [(statement, parameters)] = executed
    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "USING INDEX ix_alerts_changed_at_id" in plan and "TEMP B-TREE" not in plan, plan
        else:
            # The table is tiny, so any plan is cheap: forbid the others to see whether an ordered
            # index scan can serve the query (it can only if the condition is the index's key order).
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            assert "Index Scan using ix_alerts_changed_at_id" in plan and "Sort" not in plan, plan
