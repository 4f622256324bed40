"""Delivery through the outbox: every sink delivers stored alerts with its own cursor, lease and backoff.

The store is the source of truth. ``add_many`` queues each new alert (neither silenced nor grouped into
another) in the transaction that stores it (:mod:`alerts.sql.outbox`), so the run loop commits its
offsets once the store has the alerts, whatever the sinks do. Each sink then has one cursor row:

1. **Lease.** One deliverer at a time holds a sink's lease (compare-and-set on the cursor row), so two
   workers never deliver the same sink at once. A lease expires: a dead worker's sink is taken over
   after ``lease_s``. The holder renews it before it has less than half left, and a publish must end
   within that half (HTTP sinks time out after 10 s, Kafka after 30 s; the default lease is 120 s).
2. **Read** the next alerts after the cursor (at most ``batch_size``), oldest first.
3. **Publish** them in one call to the sink.
4. **Advance** the cursor past them, only once the sink returned (the receiver acknowledged), and
   only if this deliverer still holds the lease and nobody moved the cursor.

A failed publish leaves the cursor where it was: the same alerts are sent again after a backoff
(exponential, with jitter, capped), recorded on the cursor row (``failing_since``, ``attempts``,
``last_error``: short, without URLs) and in the metrics. A failing sink delays its own alerts only:
each sink runs in its own thread, and consumption never waits for any of them.

Nothing is delivered twice to a sink that acknowledged it, with two exceptions, both at-least-once:
a crash or a store failure between the receiver's acknowledgement and the cursor update (the next
holder sends that batch again), and a publish that outlives half the lease (another deliverer may take
the sink over meanwhile; the late one then finds its cursor update refused and logs it). Every payload
carries the alert's ``id``: receivers dedupe on it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa

from alerts.model import Alert
from alerts.sinks import AlertSink, SinkError, safe_origin
from alerts.sql import outbox as repo
from alerts.sql.alerts import from_row
from alerts.sql.engine import reading, writing

log = logging.getLogger(__name__)

# A match may start only where a scheme-like run starts (the look-behind): without it, a long run of
# letters is rescanned from every position, quadratic time on hostile error text.
_URL = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def describe(exc: BaseException) -> str:
    """What a failed delivery records and logs: the sink's own account (any other exception: its type
    only), bounded, with every URL cut to its origin (a path may hold a secret)."""
    return _scrub(exc.problem if isinstance(exc, SinkError) else type(exc).__name__)


def _scrub(text: str) -> str:
    return _URL.sub(lambda match: safe_origin(match.group()), text)[: repo.LAST_ERROR_CHARS]


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: doubling from ``initial_s``, capped at ``max_s``, each drawn between
    half and all of its step (jitter, so that sinks failing together do not retry in step)."""

    initial_s: float
    max_s: float

    def delay(self, failures: int, rng: random.Random) -> float:
        step = min(self.max_s, self.initial_s * 2.0 ** min(max(failures, 1) - 1, 60))
        return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class Queued:
    seq: int
    alert: Alert


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_age_s: float  # 0 when nothing waits


class Outbox:
    """The outbox tables (revision 0004) through the alert store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def register(self, sinks: Sequence[str]) -> None:
        """Give each new sink a cursor at the head: it delivers the alerts stored from now on. Call it
        before storing alerts for a newly configured sink (``veille run`` does, at start)."""
        with writing(self._engine, "outbox register") as connection:
            repo.register(connection, sinks)

    def prune(self) -> int:
        """Delete what every sink has delivered (the table would otherwise grow for ever)."""
        with writing(self._engine, "outbox prune") as connection:
            return repo.prune(connection)

    def lease(self, sink: str, owner: str, ttl_s: float, *, now: datetime | None = None) -> int | None:
        """The cursor position if ``owner`` now holds the lease of ``sink``; None if another does."""
        with writing(self._engine, "outbox lease") as connection:
            return repo.lease(connection, sink, owner, now or _now(), timedelta(seconds=ttl_s))

    def holder(self, sink: str, *, now: datetime | None = None) -> str | None:
        with reading(self._engine, "outbox holder") as connection:
            return repo.holder(connection, sink, now or _now())

    def pending(self, position: int, limit: int) -> list[Queued]:
        with reading(self._engine, "outbox pending") as connection:
            return [Queued(seq, from_row(row)) for seq, row in repo.pending(connection, position, limit)]

    def advance(self, sink: str, owner: str, expected: int, to: int) -> bool:
        with writing(self._engine, "outbox advance") as connection:
            return repo.advance(connection, sink, owner, expected, to, _now())

    def record_failure(self, sink: str, owner: str, problem: str) -> int:
        with writing(self._engine, "outbox record_failure") as connection:
            return repo.record_failure(connection, sink, owner, problem, _now())

    def release(self, sink: str, owner: str) -> None:
        with writing(self._engine, "outbox release") as connection:
            repo.release(connection, sink, owner)

    def backlog(self, sink: str, *, now: datetime | None = None) -> Backlog:
        with reading(self._engine, "outbox backlog") as connection:
            count, oldest = repo.backlog(connection, sink)
        age = max(0.0, ((now or _now()) - oldest).total_seconds()) if oldest is not None else 0.0
        return Backlog(count, age)

    def cursors(self) -> list[dict[str, Any]]:
        """Every cursor row: position, lease, and the failure record of a failing sink."""
        with reading(self._engine, "outbox cursors") as connection:
            return repo.cursors(connection)


def _now() -> datetime:
    return datetime.now(UTC)


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class _Gauge(Protocol):
    def set(self, value: float) -> None: ...


class _Labelled(Protocol):
    def labels(self, *labelvalues: str) -> Any: ...


class DeliveryMetrics(Protocol):
    """What delivery counts, per sink name (``monitor.metrics.Metrics`` fits)."""

    @property
    def sink_deliveries(self) -> _Labelled: ...

    @property
    def sink_failures(self) -> _Labelled: ...

    @property
    def sink_backlog(self) -> _Labelled: ...

    @property
    def sink_oldest_undelivered_seconds(self) -> _Labelled: ...


class Outcome(StrEnum):
    DELIVERED = "delivered"
    IDLE = "idle"  # nothing queued
    FAILED = "failed"  # the sink raised; backing off
    WAITING = "waiting"  # still backing off from a failure
    NOT_OWNER = "not_owner"  # another deliverer holds the lease


class SinkDelivery:
    """Delivers one sink's share of the outbox (see the module docstring); :meth:`run` is its thread."""

    def __init__(
        self,
        outbox: Outbox,
        sink: AlertSink,
        owner: str,
        *,
        batch_size: int = 100,
        lease_s: float = 120.0,
        backoff: Backoff = Backoff(0.5, 300.0),
        metrics: DeliveryMetrics | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1 or lease_s <= 0:
            raise ValueError("batch_size must be at least 1 and lease_s positive")
        self.outbox = outbox
        self.sink = sink
        self.owner = owner
        self._batch_size = batch_size
        self._lease_s = lease_s
        self._backoff = backoff
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._position: int | None = None  # known only while this deliverer holds the lease
        self._lease_until = 0.0
        self._retry_at = 0.0
        self.failures = 0  # consecutive, as on the cursor row
        self._backlog_left = False  # the last delivery was a full batch: more is probably queued

    @property
    def name(self) -> str:
        return self.sink.name

    def step(self) -> Outcome:
        """One round: lease, read, publish, advance. Store errors propagate (see :meth:`run`)."""
        if self._monotonic() < self._retry_at:
            return Outcome.WAITING
        position = self._leased_position()
        if position is None:
            return Outcome.NOT_OWNER
        batch = self.outbox.pending(position, self._batch_size)
        if not batch:
            return Outcome.IDLE
        try:
            self.sink.publish([queued.alert for queued in batch])
        except Exception as exc:  # any sink error is a failed attempt, retried later
            self._failed(exc, len(batch))
            return Outcome.FAILED
        if self._metrics is not None:
            self._metrics.sink_deliveries.labels(self.name).inc(len(batch))
        if self.failures:
            log.info("sink %s: delivering again after %d failed attempts", self.name, self.failures)
            self.failures = 0
        self._retry_at = 0.0
        self._backlog_left = len(batch) >= self._batch_size
        if self.outbox.advance(self.name, self.owner, position, batch[-1].seq):
            self._position = batch[-1].seq
        else:
            self._position = None
            log.error("sink %s: lease lost during a delivery of %d alerts; its next holder may send "
                      "them again (receivers dedupe on alert id)", self.name, len(batch))
        return Outcome.DELIVERED

    def _leased_position(self) -> int | None:
        started = self._monotonic()
        if self._position is not None and started < self._lease_until - self._lease_s / 2:
            return self._position
        if self._position is None and self.outbox.holder(self.name) not in (None, self.owner):
            return None  # a read first: waiting deliverers do not take the write lock every round
        self._position = self.outbox.lease(self.name, self.owner, self._lease_s)
        self._lease_until = started + self._lease_s
        return self._position

    def _failed(self, exc: Exception, count: int) -> None:
        problem = describe(exc)
        if self._metrics is not None:
            self._metrics.sink_failures.labels(self.name).inc()
        self.failures = self.outbox.record_failure(self.name, self.owner, problem) or self.failures + 1
        delay = self._backoff.delay(self.failures, self._rng)
        self._retry_at = self._monotonic() + delay
        log.warning("sink %s: %d alerts not delivered (%s), %d failed attempts in a row; next in %.1f s",
                    self.name, count, problem, self.failures, delay)

    def report(self) -> Backlog:
        """Set the backlog gauges from the store (every deliverer does: the numbers are the store's)."""
        backlog = self.outbox.backlog(self.name)
        if self._metrics is not None:
            self._metrics.sink_backlog.labels(self.name).set(backlog.pending)
            self._metrics.sink_oldest_undelivered_seconds.labels(self.name).set(backlog.oldest_age_s)
        return backlog

    def run(self, stop: threading.Event, *, poll_s: float = 1.0, report_every_s: float = 5.0) -> None:
        """Deliver until ``stop`` is set, then release the lease. Never raises: a store outage pauses
        delivery (with backoff) and it resumes on its own."""
        if self._metrics is not None:
            self._metrics.sink_deliveries.labels(self.name)
            self._metrics.sink_failures.labels(self.name)
        store_failures = 0
        next_report = next_prune = 0.0
        while not stop.is_set():
            try:
                outcome = self.step()
                if outcome in (Outcome.DELIVERED, Outcome.FAILED) or self._monotonic() >= next_report:
                    self.report()
                    next_report = self._monotonic() + report_every_s
                # On a clock of its own: a delivery resets the report's, and a busy sink would never prune.
                if self._monotonic() >= next_prune:
                    self.outbox.prune()
                    next_prune = self._monotonic() + report_every_s
                store_failures = 0
            except Exception as exc:
                store_failures += 1
                self._position = None
                wait = self._backoff.delay(store_failures, self._rng)
                log.warning("sink %s: delivery paused (%s: %s); retrying in %.1f s",
                            self.name, type(exc).__name__, _scrub(str(exc)), wait)
                stop.wait(wait)
                continue
            # A full batch leaves a backlog: drain it at once. A partial one drained it; going round
            # again at once would publish (and advance the cursor, a write transaction) a handful of
            # alerts per worker batch, taking the workers' interpreter lock and the store's write lock
            # for nothing a wait of poll_s does not gather into one delivery.
            if not (outcome is Outcome.DELIVERED and self._backlog_left):
                stop.wait(poll_s)
        self.release()

    def release(self) -> None:
        """Hand the lease back (at shutdown), so another deliverer takes the sink over at once, and
        prune what every sink has delivered meanwhile."""
        with contextlib.suppress(Exception):  # the next deliverer's report prunes as well
            self.outbox.prune()
        try:
            self.outbox.release(self.name, self.owner)
        except Exception as exc:  # it expires on its own
            log.warning("sink %s: lease not released (%s); it expires in %.0f s",
                        self.name, type(exc).__name__, self._lease_s)
        self._position = None
