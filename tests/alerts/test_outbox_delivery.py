"""Delivering the outbox, on real SQLite and real PostgreSQL: backoff and failure records for a sink
that fails, exactly once to a sink that acknowledged, one deliverer per sink at a time."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from alerts.model import Alert
from alerts.outbox import Backoff, Outbox, Outcome, SinkDelivery, describe
from alerts.sinks import SinkError
from alerts.store import SqlAlertStore
from monitor.metrics import Metrics

AlertFactory = Callable[..., Alert]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET_URL = "https://hooks.example.org/services/T0/B0/s3cr3t-token?key=hunter2"


class Receiver:
    """A sink that records every alert it acknowledges; ``down`` makes it refuse (with a message
    quoting its URL, as a careless sink might)."""

    def __init__(self, name: str = "hook", log: list[str] | None = None) -> None:
        self.name = name
        self.down = False
        self.calls = 0
        self.first_call_at: float | None = None
        self.log = log if log is not None else []
        self._lock = threading.Lock()

    def publish(self, alerts: Sequence[Alert]) -> None:
        with self._lock:
            self.calls += 1
            if self.first_call_at is None:
                self.first_call_at = time.monotonic()
            if self.down:
                raise SinkError(self.name, f"HTTP 503 from {SECRET_URL}")
            self.log.extend(alert.id for alert in alerts)

    def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(0.5, 8.0)
    rng = random.Random(3)
    for failures, step in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0), (10_000, 8.0)):
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(step / 2 <= delay <= step for delay in delays), failures
        assert len(set(delays)) > 1, "jittered"


def test_a_failing_sink_backs_off_is_reported_and_gets_everything_once_back(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    receiver = Receiver()
    clock = Clock()
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    delivery = SinkDelivery(outbox, receiver, "w1", batch_size=4, backoff=Backoff(1.0, 4.0), metrics=metrics,
                            rng=random.Random(1), monotonic=clock)
    outbox.register([receiver.name])
    alerts = [make_alert(created_at=T0 + timedelta(seconds=n), post_created_at=T0 + timedelta(seconds=n))
              for n in range(10)]
    store.add_many(alerts[::-1])

    receiver.down = True
    waits = []
    for _ in range(5):
        assert delivery.step() is Outcome.FAILED
        retry_in = delivery._retry_at - clock.now
        waits.append(retry_in)
        assert delivery.step() is Outcome.WAITING, "no new attempt before the backoff is over"
        clock.now += retry_in
    assert receiver.calls == 5
    for wait, step in zip(waits, (1.0, 2.0, 4.0, 4.0, 4.0), strict=True):
        assert step / 2 <= wait <= step
    [cursor] = outbox.cursors()
    assert cursor["attempts"] == 5 and cursor["failing_since"] is not None and cursor["position"] == 0
    assert cursor["last_error"] == "HTTP 503 from https://hooks.example.org", "the URL cut to its origin"
    assert registry.get_sample_value("veille_sink_failures_total", {"sink": "hook"}) == 5
    assert delivery.report().pending == 10
    assert registry.get_sample_value("veille_sink_backlog", {"sink": "hook"}) == 10

    receiver.down = False
    outcomes = []
    while (outcome := delivery.step()) is not Outcome.IDLE:
        outcomes.append(outcome)
    assert outcomes == [Outcome.DELIVERED] * 3  # 4 + 4 + 2
    assert receiver.log == [alert.id for alert in alerts], "every alert once, oldest post first"
    [cursor] = outbox.cursors()
    assert (cursor["attempts"], cursor["failing_since"], cursor["last_error"]) == (0, None, None)
    assert delivery.report().pending == 0
    assert registry.get_sample_value("veille_sink_deliveries_total", {"sink": "hook"}) == 10


class _CountingStop(threading.Event):
    """A stop event that records what the receiver had got at each wait, and stops after a few."""

    def __init__(self, receiver: Receiver, waits: int) -> None:
        super().__init__()
        self.receiver = receiver
        self.calls_at_wait: list[int] = []
        self._waits = waits

    def wait(self, timeout: float | None = None) -> bool:
        self.calls_at_wait.append(self.receiver.calls)
        if len(self.calls_at_wait) >= self._waits:
            self.set()
        return self.is_set()


def test_a_drained_backlog_waits_for_the_next_round_a_full_batch_goes_on_at_once(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    """Workers store alerts while the sink publishes. A delivery that drained the backlog (a partial
    batch) waits ``poll_s`` before the next, gathering what workers stored meanwhile into one publish,
    instead of publishing (and advancing the cursor, a write) a handful of alerts per worker batch."""
    outbox = Outbox(store.engine)
    outbox.register(["hook"])
    stored = iter(range(1000))

    class BusyReceiver(Receiver):
        def publish(self, alerts: Sequence[Alert]) -> None:
            super().publish(alerts)
            n = next(stored)  # a worker stores one more alert during every publish
            store.add_many([make_alert(created_at=T0 + timedelta(seconds=n), post_created_at=T0)])

    receiver = BusyReceiver()
    store.add_many([make_alert(created_at=T0 - timedelta(seconds=n), post_created_at=T0) for n in range(7)])
    stop = _CountingStop(receiver, waits=3)
    SinkDelivery(outbox, receiver, "w1", batch_size=3).run(stop, poll_s=0.01, report_every_s=3600)
    # 7 queued, one more stored during each publish: 3, 3, 3 (full batches: on at once), then 1 (a
    # partial batch: drained) and a wait; each later round publishes the one alert its wait gathered.
    assert stop.calls_at_wait == [4, 5, 6]
    assert len(receiver.log) == len(set(receiver.log)) == 7 + 5


def test_other_exceptions_are_reported_by_type_only() -> None:
    assert describe(RuntimeError(f"boom at {SECRET_URL}")) == "RuntimeError"
    assert describe(SinkError("x", "ConnectError")) == "ConnectError"


def test_two_deliverers_never_send_an_alert_twice_and_one_takes_over_from_a_dead_one(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    """Two deliverers of one sink (two workers, each with its own client to the same receiver) run
    while alerts keep being stored. One dies without releasing its lease: after the lease expires the
    other delivers the rest. The receiver's log holds every alert exactly once."""
    outbox = Outbox(store.engine)
    received: list[str] = []
    first, second = Receiver(log=received), Receiver(log=received)
    outbox.register(["hook"])
    lease_s = 2.0
    dying = SinkDelivery(outbox, first, "dying", batch_size=5, lease_s=lease_s)
    survivor = SinkDelivery(outbox, second, "survivor", batch_size=5, lease_s=lease_s,
                            backoff=Backoff(0.01, 0.05))
    stop = threading.Event()
    stored: list[str] = []

    def write() -> None:
        for _ in range(30):
            stored.extend(store.add_many([make_alert() for _ in range(3)]))
            time.sleep(0.01)

    # The dying deliverer takes the lease first and delivers a few batches, then stops without a word.
    store.add_many([make_alert() for _ in range(12)])
    stored.extend(alert.alert.id for alert in outbox.pending(0, 100))
    assert [dying.step() for _ in range(2)] == [Outcome.DELIVERED, Outcome.DELIVERED]
    died_at = time.monotonic()
    writer = threading.Thread(target=write)
    thread = threading.Thread(target=survivor.run, args=(stop,), kwargs={"poll_s": 0.01})
    writer.start()
    thread.start()
    try:
        writer.join(60)
        deadline = time.monotonic() + 30
        while outbox.backlog("hook").pending and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox.backlog("hook").pending == 0, "the survivor drains the outbox"
    finally:
        stop.set()
        thread.join(10)
    assert second.log is received and first.calls == 2
    duplicates = [alert_id for alert_id, n in Counter(received).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} alerts delivered twice"
    assert sorted(received) == sorted(stored)
    assert received[:10] == stored[:10], "the dead deliverer's batches were not sent again"
    assert second.first_call_at is not None
    assert second.first_call_at - died_at >= lease_s * 0.9, "the survivor waited for the lease to expire"


def test_deliverers_racing_for_one_sink_deliver_each_alert_once(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    outbox = Outbox(store.engine)
    received: list[str] = []
    receivers = [Receiver(log=received) for _ in range(3)]
    outbox.register(["hook"])
    deliveries = [SinkDelivery(outbox, receiver, f"w{n}", batch_size=7)
                  for n, receiver in enumerate(receivers)]
    stop = threading.Event()
    threads = [threading.Thread(target=d.run, args=(stop,), kwargs={"poll_s": 0.005}) for d in deliveries]
    stored: list[str] = []
    queue_order: list[str] = []
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            batch = [make_alert() for _ in range(4)]
            stored.extend(store.add_many(batch))
            # The outbox numbers one transaction's alerts oldest post first (alerts.sql.outbox).
            queue_order += [a.id for a in sorted(batch, key=lambda a: (a.post_created_at, a.id))]
        deadline = time.monotonic() + 30
        while outbox.backlog("hook").pending and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert len(received) == len(set(received)) == len(stored) == 160
    assert received == queue_order, "one cursor, in queue order"
    assert outbox.pending(0, 1000) == [], "what the only sink delivered is pruned"
    assert outbox.holder("hook") is None, "leases released at stop"
