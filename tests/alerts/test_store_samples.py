"""Samples as rows of the alerts table, and the queue's service levels, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, AlertKind, AlertStatus, Severity, Verdict
from alerts.query import AlertQuery
from alerts.sampling import SAMPLE_RULE_ID
from alerts.sql.schema import alerts_table, outbox_table
from alerts.store import SqlAlertStore


def _outbox_ids(store: SqlAlertStore) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.scalars(sa.select(outbox_table.c.alert_id)))


def test_samples_are_never_grouped_nor_queued_for_the_sinks(
    store_url: str, make_alert: Callable[..., Alert]
) -> None:
    store = SqlAlertStore.open(store_url, group_window=timedelta(hours=1))
    try:
        at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        # One author, two drawn posts a minute apart: grouping would fold the second into the first.
        minutes = [at + timedelta(minutes=n) for n in range(2)]
        samples = [make_alert(f"s-{n}", SAMPLE_RULE_ID, created_at=at, post_created_at=t,
                              kind=AlertKind.SAMPLE, population="reps", severity=Severity.INFO)
                   for n, t in enumerate(minutes)]
        alerts = [make_alert(f"a-{n}", created_at=at, post_created_at=t) for n, t in enumerate(minutes)]
        new = store.add_many([*samples, *alerts])
        assert set(new) == {a.id for a in [*samples, *alerts]}
        stored_samples = store.query(AlertQuery(kind=[AlertKind.SAMPLE])).data
        assert {a.id for a in stored_samples} == {s.id for s in samples}
        assert all(a.occurrences == 1 and a.population == "reps" for a in stored_samples)
        # The two alerts of one rule and author were grouped into one, as before.
        assert [a.occurrences for a in store.query(AlertQuery(kind=[AlertKind.ALERT])).data] == [2]
        assert _outbox_ids(store) == {alerts[0].id}
        assert store.count(AlertQuery(population=["reps"])) == 2
        # A replay stores nothing twice.
        assert store.add_many(samples) == []
    finally:
        store.close()


def test_rows_stored_before_sampling_read_as_alerts(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    alert = make_alert("legacy")
    store.add_many([alert])
    with store.engine.begin() as connection:
        row = connection.execute(sa.select(alerts_table.c.kind, alerts_table.c.population)).one()
    assert tuple(row) == ("alert", None)
    assert store.get(alert.id).kind is AlertKind.ALERT


def test_oldest_open_age_and_close_times_per_severity(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    now = datetime.now(UTC)
    oldest = make_alert("crit-old", severity=Severity.CRITICAL, created_at=now - timedelta(hours=5))
    newer = make_alert("crit-new", severity=Severity.CRITICAL, created_at=now - timedelta(minutes=5))
    acked = make_alert("high-acked", severity=Severity.HIGH, created_at=now - timedelta(hours=2))
    silenced = make_alert("high-silenced", severity=Severity.HIGH, created_at=now - timedelta(hours=9),
                          silenced=True)
    done = make_alert("low-done", severity=Severity.LOW, created_at=now - timedelta(hours=3))
    store.add_many([oldest, newer, acked, silenced, done])
    store.transition(acked.id, AlertStatus.ACKNOWLEDGED, CLI_ACTOR)  # worked on, not closed: still open
    store.transition(done.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)

    ages = store.oldest_open_by_severity()
    assert set(ages) == {"critical", "high"}
    assert abs((ages["critical"] - oldest.created_at).total_seconds()) < 1e-3
    assert abs((ages["high"] - acked.created_at).total_seconds()) < 1e-3  # the silenced one is left out

    buckets = (3600.0, 4 * 3600.0, 86400.0)
    closed = store.close_time_buckets(buckets)
    assert set(closed) == {"low"}
    cumulative, count, total = closed["low"]
    assert cumulative == [0, 1, 1] and count == 1
    assert abs(total - 3 * 3600) < 60  # closed just now, created three hours ago
