"""Helpers for the Kafka runtime tests: real broker (tests/conftest.py), real pipeline, real SQLite store,
and the sinks delivering from the store's outbox next to the worker, as `veille run` does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from alerts.model import Alert
from alerts.outbox import Outbox
from alerts.query import AlertQuery
from alerts.sinks import AlertSink, MemorySink
from alerts.store import SqlAlertStore
from monitor.delivery import Delivery
from monitor.kafka_io import committed_offsets, send_records
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline, build_pipeline
from monitor.produce import topic_for_sources
from monitor.runner import Worker
from monitor.settings import Settings
from policies.post import Post


class RecordingPipeline:
    """The real pipeline, remembering which posts it processed (and optionally stopping a worker, or
    taking ``delay_s`` longer per post: ``slow`` gives some post ids a delay of their own)."""

    def __init__(self, inner: Pipeline, *, stop_after: int | None = None,
                 stop: threading.Event | None = None, delay_s: float = 0.0,
                 slow: Mapping[str, float] | None = None) -> None:
        self.inner = inner
        self.seen: list[str] = []
        self.origins: list[Mapping[str, Any]] = []
        self._stop_after = stop_after
        self._stop = stop
        self._delay_s = delay_s
        self._slow = dict(slow or {})
        self._lock = threading.Lock()

    @property
    def policy_version(self) -> str:
        return self.inner.policy_version

    def metric_jurisdiction(self, jurisdiction: str) -> str:
        return self.inner.metric_jurisdiction(jurisdiction)

    def process(self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None) -> Any:
        if self._delay_s or self._slow:
            time.sleep(sum(self._slow.get(post.id, self._delay_s) for post in posts))
        results = self.inner.process(posts, origins)
        with self._lock:
            self.seen.extend(post.id for post in posts)
            self.origins.extend(origins or [])
            if self._stop_after is not None and self._stop is not None and len(self.seen) >= self._stop_after:
                self._stop.set()
        return results


# Delivery in tests: look for new alerts often and retry a failing sink soon.
FAST_DELIVERY = {"delivery_poll_seconds": 0.05, "sink_backoff_seconds": 0.05, "sink_backoff_max_seconds": 0.5}


class RunningWorker:
    def __init__(self, worker: Worker, thread: threading.Thread, stop: threading.Event,
                 delivery: Delivery | None = None) -> None:
        self.worker = worker
        self.thread = thread
        self.stop = stop
        self.delivery = delivery
        self.error: BaseException | None = None

    def backlog(self) -> int:
        """Alerts stored but not yet delivered, summed over this worker's sinks."""
        if self.delivery is None:
            return 0
        return sum(self.delivery.outbox.backlog(sink.name).pending for sink in self.delivery.sinks)

    def join(self, timeout_s: float = 30.0, *, drain_s: float = 30.0) -> None:
        """Stop the worker, give the sinks up to ``drain_s`` to deliver what it stored, stop them."""
        self.stop.set()
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "worker did not stop within the timeout"
        if self.delivery is not None:
            deadline = time.monotonic() + drain_s
            while self.backlog() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.delivery.stop()
        if self.error is not None:
            raise self.error


class Kit:
    """Plain helpers, handed out by the ``kit`` fixture (test dirs are not packages)."""

    RecordingPipeline = RecordingPipeline

    @staticmethod
    def wait_until(predicate: Callable[[], bool], timeout_s: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")

    @staticmethod
    def produce_posts(settings: Settings, posts: Iterable[Post]) -> dict[TopicPartition, int]:
        """Send posts as `veille produce` would; return each partition's end offset (topics start empty)."""
        routing = topic_for_sources(settings)
        return Kit.produce_raw(settings, [(routing[post.source], post.author.id.encode(),
                                           post.model_dump_json().encode()) for post in posts])

    @staticmethod
    def produce_raw(settings: Settings, records: Iterable[tuple[str, bytes | None, bytes | None]],
                    ) -> dict[TopicPartition, int]:
        return send_records(settings, records)

    @staticmethod
    def merge_ends(*ends: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        merged: dict[TopicPartition, int] = {}
        for mapping in ends:
            for tp, end in mapping.items():
                merged[tp] = max(merged.get(tp, 0), end)
        return merged

    @staticmethod
    def committed(settings: Settings) -> dict[TopicPartition, int]:
        return committed_offsets(settings)

    @staticmethod
    def wait_committed(settings: Settings, ends: Mapping[TopicPartition, int], timeout_s: float = 60.0,
                       running: RunningWorker | None = None) -> None:
        def done() -> bool:
            if running is not None and running.error is not None:
                raise running.error
            committed = committed_offsets(settings)
            return all(committed.get(tp) == end for tp, end in ends.items())

        Kit.wait_until(done, timeout_s, f"committed offsets to reach {dict(ends)}")

    @staticmethod
    def start_worker(settings: Settings, pipeline: Any, store: Any, sinks: Sequence[AlertSink],
                     metrics: Metrics, **kwargs: Any) -> RunningWorker:
        """A worker in a thread and, when ``sinks`` are given, their delivery from ``store.engine``'s
        outbox (started first: their cursors exist before the first alert is stored)."""
        stop = kwargs.pop("stop", None) or threading.Event()
        delivery = None
        if sinks:
            delivery_settings = settings.model_copy(update=FAST_DELIVERY)
            delivery = Delivery(delivery_settings, Outbox(store.engine), sinks, metrics).start()
        worker = Worker(settings, pipeline, store, metrics, **kwargs)
        running: RunningWorker

        def target() -> None:
            try:
                worker.run(stop)
            except BaseException as exc:
                running.error = exc
                raise

        thread = threading.Thread(target=target, name="test-worker", daemon=True)
        running = RunningWorker(worker, thread, stop, delivery)
        thread.start()
        return running

    @staticmethod
    def stored_ids(store: SqlAlertStore) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            page = store.query(AlertQuery(limit=500, cursor=cursor))
            ids.extend(alert.id for alert in page.data)
            cursor = page.next_cursor
            if cursor is None:
                return ids

    @staticmethod
    def expected_alerts(pipeline: Pipeline, posts: Sequence[Post]) -> dict[str, Alert]:
        return {alert.id: alert for result in pipeline.process(posts) for alert in result.alerts}

    @staticmethod
    def read_topic(settings: Settings, topic: str, count: int, timeout_s: float = 20.0) -> list[Any]:
        """Every record of ``topic`` from the beginning (no group: plain assignment)."""
        consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                                 consumer_timeout_ms=1000)
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            records: list[Any] = []
            deadline = time.monotonic() + timeout_s
            while len(records) < count and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(batch)
            return records
        finally:
            consumer.close()


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture(scope="session")
def real_pipeline() -> Pipeline:
    """The shipped policy packs and detectors, built once (the same `veille run` uses)."""
    return build_pipeline(Settings())


@pytest.fixture
def metrics() -> Metrics:
    return Metrics.create(CollectorRegistry())


@pytest.fixture
def store(kafka_settings: Settings) -> Iterator[SqlAlertStore]:
    opened = SqlAlertStore.open(kafka_settings.resolved_database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def memory_sink() -> MemorySink:
    return MemorySink()


@pytest.fixture(scope="session")
def post_mix(real_pipeline: Pipeline) -> list[Post]:
    """600 generated posts with every alert-raising post of a larger sample kept (spread evenly).

    Keeps the runner tests meaningful however many rules the shipped packs hold today.
    """
    from monitor.traffic import generate_posts

    pool = list(generate_posts(3000, seed=11))
    results = real_pipeline.process(pool)
    alerting = [result.post for result in results if result.alerts][:150]
    quiet = [result.post for result in results if not result.alerts][: 600 - len(alerting)]
    assert alerting, "the shipped policy packs raised no alert on 3000 generated posts"
    mix: list[Post] = []
    step = max(1, len(quiet) // len(alerting))
    for index, post in enumerate(quiet):
        if index % step == 0 and alerting:
            mix.append(alerting.pop())
        mix.append(post)
    mix.extend(alerting)
    return mix
