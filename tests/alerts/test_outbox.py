"""The outbox in the store, on real SQLite and real PostgreSQL: what is queued, in which order, the
cursors' leases, and no alert skipped when writers commit concurrently."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from alerts.audit import Actor
from alerts.model import Alert
from alerts.outbox import Outbox
from alerts.silences import Matchers, SilenceRequest
from alerts.sql.schema import alerts_table, outbox_table
from alerts.store import SqlAlertStore

AlertFactory = Callable[..., Alert]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _queued(outbox: Outbox, after: int = 0) -> list[tuple[int, str]]:
    return [(queued.seq, queued.alert.id) for queued in outbox.pending(after, 10_000)]


def test_new_alerts_are_queued_once_and_silenced_or_grouped_hits_never(
    store_url: str, make_alert: AlertFactory
) -> None:
    store = SqlAlertStore.open(store_url, group_window=timedelta(hours=1))
    try:
        outbox = Outbox(store.engine)
        store.create_silence(
            SilenceRequest(matchers=Matchers(rule_id="fr.noisy"), reason="known noisy rule",
                           expires_at=datetime.now(UTC) + timedelta(days=1)),
            Actor(name="officer", role="officer"),
        )
        first = make_alert("p1", "fr.pii.email", author_id="a")
        grouped = make_alert("p2", "fr.pii.email", author_id="a", created_at=T0 + timedelta(minutes=5),
                             post_created_at=T0 + timedelta(minutes=5))
        silenced = make_alert("p3", "fr.noisy", author_id="a")
        other = make_alert("p4", "fr.pii.email", author_id="b", created_at=T0 - timedelta(minutes=1),
                           post_created_at=T0 - timedelta(minutes=1))
        batch = [first, grouped, silenced, other]
        assert store.add_many(batch) == [alert.id for alert in batch]
        stored_silenced = store.get(silenced.id)
        assert stored_silenced is not None and stored_silenced.silenced
        assert store.occurrences(first.id)[1]["id"] == grouped.id

        # Oldest post first within one transaction.
        assert _queued(outbox) == [(1, other.id), (2, first.id)]
        assert outbox.pending(0, 10)[0].alert == store.get(other.id)
        # A replayed batch stores nothing new, so queues nothing.
        assert store.add_many(batch) == []
        assert _queued(outbox) == [(1, other.id), (2, first.id)]
    finally:
        store.close()


def test_a_new_sink_starts_at_the_head_and_numbers_are_never_reused(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    early = [make_alert(), make_alert()]
    store.add_many(early)
    outbox.register(["late-sink"])
    assert outbox.lease("late-sink", "w1", 60) == 2, "a sink added later starts after what is stored"
    assert outbox.pending(2, 10) == []
    newest = make_alert()
    store.add_many([newest])
    assert _queued(outbox, 2) == [(3, newest.id)]
    assert outbox.advance("late-sink", "w1", 2, 3)
    # Deleting the newest alert (retention, erasure) deletes its outbox row: on SQLite the next rowid
    # would be 3 again, below the cursor, and the next alert would never be delivered.
    with store.engine.begin() as connection:
        connection.execute(sa.delete(alerts_table).where(alerts_table.c.id == newest.id))
        assert connection.scalar(sa.select(sa.func.count()).select_from(outbox_table)) == 2
    after = make_alert()
    store.add_many([after])
    assert _queued(outbox, 3) == [(4, after.id)]
    assert outbox.backlog("late-sink").pending == 1


def test_rows_every_sink_delivered_are_pruned_and_numbers_go_on(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    assert outbox.prune() == 0, "no sink registered yet: nothing is known to be delivered"
    outbox.register(["hook", "kafka"])
    alerts = [make_alert() for _ in range(5)]
    store.add_many(alerts)
    assert outbox.lease("hook", "w", 60) == 0 and outbox.advance("hook", "w", 0, 5)
    assert outbox.lease("kafka", "w", 60) == 0 and outbox.advance("kafka", "w", 0, 3)
    assert outbox.prune() == 3, "the slower sink still needs 4 and 5"
    assert [seq for seq, _ in _queued(outbox)] == [4, 5]
    assert outbox.backlog("kafka").pending == 2 and outbox.backlog("hook").pending == 0
    assert outbox.advance("kafka", "w", 3, 5)
    assert outbox.prune() == 2 and _queued(outbox) == []
    # Numbering goes on from the cursors, never reusing a pruned number.
    newest = make_alert()
    store.add_many([newest])
    assert _queued(outbox) == [(6, newest.id)]


def test_a_lease_is_exclusive_expires_and_guards_the_cursor(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    outbox.register(["hook"])
    store.add_many([make_alert(), make_alert()])
    now = datetime.now(UTC)
    assert outbox.lease("hook", "w1", 30, now=now) == 0
    assert outbox.lease("hook", "w2", 30, now=now + timedelta(seconds=10)) is None, "held by w1"
    assert outbox.holder("hook", now=now) == "w1"
    assert outbox.lease("hook", "w1", 30, now=now + timedelta(seconds=20)) == 0, "w1 renews"
    assert outbox.lease("hook", "w2", 30, now=now + timedelta(seconds=45)) is None, "renewed until +50 s"
    # w1 dies: its lease expires and w2 takes the sink over.
    assert outbox.lease("hook", "w2", 30, now=now + timedelta(seconds=51)) == 0
    assert not outbox.advance("hook", "w1", 0, 2), "w1 lost the lease: its cursor update is refused"
    assert outbox.advance("hook", "w2", 0, 2)
    assert not outbox.advance("hook", "w2", 0, 2), "the cursor moved: a stale update is refused"
    outbox.release("hook", "w2")
    assert outbox.holder("hook") is None
    assert outbox.lease("hook", "w1", 30) == 2


def test_failures_are_recorded_bounded_and_cleared_by_a_delivery(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    outbox.register(["hook"])
    store.add_many([make_alert()])
    assert outbox.lease("hook", "w1", 30) == 0
    assert outbox.record_failure("hook", "w1", "ConnectError") == 1
    first = outbox.cursors()[0]["failing_since"]
    assert outbox.record_failure("hook", "w1", "x" * 500) == 2
    assert outbox.record_failure("hook", "w2", "not the holder") == 0
    [cursor] = outbox.cursors()
    assert (cursor["attempts"], cursor["failing_since"], cursor["last_error"]) == (2, first, "x" * 200)
    assert outbox.backlog("hook").pending == 1
    assert outbox.advance("hook", "w1", 0, 1)
    [cursor] = outbox.cursors()
    assert (cursor["attempts"], cursor["failing_since"], cursor["last_error"]) == (0, None, None)
    assert cursor["delivered_at"] is not None
    assert outbox.backlog("hook").pending == 0 and outbox.backlog("hook").oldest_age_s == 0


def test_backlog_counts_what_waits_and_ages_the_oldest(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    outbox.register(["hook"])
    store.add_many([make_alert() for _ in range(3)])
    later = datetime.now(UTC) + timedelta(seconds=90)
    backlog = outbox.backlog("hook", now=later)
    assert backlog.pending == 3 and 89 <= backlog.oldest_age_s <= 100
    assert outbox.backlog("never-registered").pending == 0


@pytest.mark.postgres
def test_concurrent_writers_never_leave_a_gap_a_reader_would_skip(
    postgres_url: str, make_alert: AlertFactory
) -> None:
    """Writers commit in any order, slowed at random just before COMMIT; a reader follows the outbox
    with a cursor the whole time, as a sink does. Every alert must reach it exactly once."""
    writers, batches, per_batch = 6, 15, 4
    store = SqlAlertStore.open(postgres_url)
    rng = random.Random(7)
    rng_lock = threading.Lock()

    def slow_commit(_connection: Any) -> None:
        with rng_lock:
            pause = rng.uniform(0, 0.02)
        time.sleep(pause)

    sa.event.listen(store.engine, "commit", slow_commit)
    outbox = Outbox(store.engine)
    stored: list[str] = []
    seen: list[str] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            for batch in range(batches):
                alerts = [make_alert(f"w{index}-b{batch}-{n}") for n in range(per_batch)]
                stored.extend(store.add_many(alerts))
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        position = 0
        try:
            while True:
                finished = done.is_set()  # then read on until the outbox is drained
                batch = outbox.pending(position, 7)
                for queued in batch:
                    seen.append(queued.alert.id)
                    position = queued.seq
                if finished and len(batch) < 7:
                    return
                if not batch:
                    time.sleep(0.001)
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    try:
        reader.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        done.set()
        reader.join(60)
    finally:
        done.set()
        store.close()
    assert not errors, errors
    assert len(stored) == writers * batches * per_batch
    assert len(seen) == len(set(seen)), "an alert was read twice"
    assert sorted(seen) == sorted(stored), f"{len(set(stored) - set(seen))} alerts skipped by the reader"
