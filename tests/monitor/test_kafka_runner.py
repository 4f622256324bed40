"""The run loop against a real broker (Tansu and noida-db), the real pipeline and a real SQLite store."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from kafka import TopicPartition

from alerts.model import Alert
from alerts.sinks import MemorySink, SinkError
from alerts.store import SqlAlertStore, StoreUnavailable
from monitor.kafka_io import make_consumer
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline, build_pipeline
from monitor.records import DLQ_REASONS
from monitor.settings import Settings
from policies.post import Post

pytestmark = pytest.mark.kafka


def _sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    # Each Metrics has its own registry in these tests; collect straight from the metric objects.
    for metric in (metrics.posts_consumed, metrics.records_dead_lettered, metrics.alerts_raised,
                   metrics.offsets_committed):
        for family in metric.collect():
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                    return sample.value
    return 0.0


def _total(metrics: Metrics, name: str) -> float:
    total = 0.0
    for metric in (metrics.posts_consumed, metrics.records_dead_lettered, metrics.alerts_raised,
                   metrics.offsets_committed):
        for family in metric.collect():
            total += sum(sample.value for sample in family.samples if sample.name == name)
    return total


def _lag(metrics: Metrics) -> float:
    return sum(sample.value for family in metrics.consumer_lag.collect() for sample in family.samples)


def _lag_series(metrics: Metrics) -> int:
    return sum(len(family.samples) for family in metrics.consumer_lag.collect())


def test_every_alert_stored_once_and_offsets_committed(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore,
    memory_sink: MemorySink, metrics: Metrics, post_mix: list[Post],
) -> None:
    expected = kit.expected_alerts(real_pipeline, post_mix)
    assert expected
    ends = kit.produce_posts(kafka_settings, post_mix)
    running = kit.start_worker(kafka_settings, real_pipeline, store, [memory_sink], metrics)
    try:
        kit.wait_committed(kafka_settings, ends, running=running)
        kit.wait_until(lambda: _lag(metrics) == 0 and _lag_series(metrics) > 0, 10, "the lag gauge at zero")
    finally:
        running.join()
    assert _lag_series(metrics) == 0, "a stopped worker reports no lag for partitions it no longer owns"

    stored = kit.stored_ids(store)
    assert sorted(stored) == sorted(expected)
    assert sorted(alert.id for alert in memory_sink.published) == sorted(expected)
    for alert in memory_sink.published:
        assert alert.origin["topic"] in kafka_settings.input_topics
        assert isinstance(alert.origin["offset"], int)
    assert _total(metrics, "veille_posts_consumed_total") == len(post_mix)
    assert _total(metrics, "veille_alerts_raised_total") == len(expected)
    assert _total(metrics, "veille_offsets_commits_total") >= 1
    assert kit.committed(kafka_settings) == ends


def test_malformed_records_go_to_the_dlq_with_reasons_and_the_loop_goes_on(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post],
) -> None:
    settings = kafka_settings.model_copy(update={"max_record_bytes": 4096})
    topic = settings.input_topics[0]
    secret = "TOP-SECRET-PAYLOAD-TEXT"
    bad: list[tuple[str, bytes | None, bytes, str]] = [
        (topic, b"k-json", b'{"id": "x", "text": "' + secret.encode() + b'"', "invalid_json"),
        (topic, b"k-types", json.dumps({"id": "y", "source": "internal", "channel": "teams",
                                        "author": {"id": "a"}, "text": 12345}).encode(), "invalid_post"),
        (topic, None, b'{"id": "z", "text": "' + secret.encode() + b'\xff\xfe"}', "invalid_utf8"),
        (topic, b"k-big", b'{"id": "big", "text": "' + secret.encode() * 400 + b'"}', "too_large"),
    ]
    posts = post_mix[:200]
    expected = kit.expected_alerts(real_pipeline, posts)
    first = kit.produce_posts(settings, posts[:100])
    bad_ends = kit.produce_raw(settings, [(t, k, v) for t, k, v, _ in bad])
    last = kit.produce_posts(settings, posts[100:])
    ends = kit.merge_ends(first, bad_ends, last)

    running = kit.start_worker(settings, real_pipeline, store, [], metrics)
    try:
        kit.wait_committed(settings, ends, running=running)
    finally:
        running.join()
    assert sorted(kit.stored_ids(store)) == sorted(expected)

    dead = kit.read_topic(settings, settings.dlq_topic, len(bad))
    assert len(dead) == len(bad)
    by_key = {record.key: record for record in dead}
    for source_topic, key, value, reason in bad:
        record = by_key[key]
        headers = {name: raw.decode() for name, raw in record.headers}
        assert record.value == value, "the DLQ keeps the original bytes"
        assert headers["error"] == reason
        assert reason in DLQ_REASONS
        assert headers["source_topic"] == source_topic
        assert int(headers["source_offset"]) >= 0
        assert 0 <= int(headers["source_partition"]) < 4
        assert headers["error_detail"]
        assert secret not in headers["error_detail"], "post text must never reach the DLQ headers"
        assert _sample(metrics, "veille_records_dead_lettered_total", {"reason": reason}) == 1
    assert _total(metrics, "veille_posts_consumed_total") == len(posts)


def test_restart_resumes_from_the_committed_offset_without_duplicates(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post],
) -> None:
    settings = kafka_settings.model_copy(update={"poll_max_records": 25})
    expected = kit.expected_alerts(real_pipeline, post_mix)
    ends = kit.produce_posts(settings, post_mix)

    stop = threading.Event()
    first = kit.RecordingPipeline(real_pipeline, stop_after=150, stop=stop)
    sink_one = MemorySink()
    running = kit.start_worker(settings, first, store, [sink_one], metrics, stop=stop)
    running.thread.join(60)
    running.join()
    committed = kit.committed(settings)
    assert 150 <= len(first.seen) < len(post_mix), "the first worker must stop mid-stream"
    assert sum(committed.values()) == len(first.seen), "every processed post is committed, no more"

    second = kit.RecordingPipeline(real_pipeline)
    sink_two = MemorySink()
    running = kit.start_worker(settings, second, store, [sink_two], metrics)
    try:
        kit.wait_committed(settings, ends, running=running)
    finally:
        running.join()

    assert not set(first.seen) & set(second.seen), "a committed post was processed again"
    assert sorted(first.seen + second.seen) == sorted(post.id for post in post_mix)
    published = [alert.id for alert in sink_one.published + sink_two.published]
    assert sorted(published) == sorted(expected), "each alert published exactly once across the restart"
    assert sorted(kit.stored_ids(store)) == sorted(expected)
    assert _total(metrics, "veille_alerts_raised_total") == len(expected)


class _FlakyStore:
    """The real store, refusing writes until ``healthy`` is set (a database outage)."""

    def __init__(self, inner: SqlAlertStore) -> None:
        self.inner = inner
        self.healthy = threading.Event()
        self.failures = 0
        self.attempted_batches: list[list[str]] = []

    @property
    def engine(self) -> Any:
        return self.inner.engine

    def add_many(self, alerts: Sequence[Alert]) -> list[str]:
        self.attempted_batches.append([alert.id for alert in alerts])
        if not self.healthy.is_set():
            self.failures += 1
            raise StoreUnavailable("alert store unavailable during add_many: simulated outage")
        return self.inner.add_many(alerts)


class _FlakySink:
    name = "flaky"

    def __init__(self) -> None:
        self.healthy = threading.Event()
        self.failures = 0
        self.delivered: list[str] = []

    def publish(self, alerts: Sequence[Alert]) -> None:
        if not self.healthy.is_set() and alerts:
            self.failures += 1
            raise SinkError(self.name, "receiver unavailable (simulated)")
        self.delivered.extend(alert.id for alert in alerts)

    def close(self) -> None:
        return None


def _produce_200(kit: Any, settings: Settings, pipeline: Pipeline, post_mix: list[Post]) -> tuple[Any, ...]:
    """The first 200 posts of the mix, the alerts they raise, and the end offsets once produced."""
    posts = post_mix[:200]
    return posts, kit.expected_alerts(pipeline, posts), kit.produce_posts(settings, posts)


def test_a_store_failure_means_no_commit_and_the_batch_is_retried(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore,
    metrics: Metrics, post_mix: list[Post],
) -> None:
    posts, expected, ends = _produce_200(kit, kafka_settings, real_pipeline, post_mix)
    flaky_store = _FlakyStore(store)
    sink = _FlakySink()
    sink.healthy.set()
    running = kit.start_worker(kafka_settings, real_pipeline, flaky_store, [sink], metrics,
                               retry_backoff_s=(0.05, 0.2))
    try:
        kit.wait_until(lambda: flaky_store.failures >= 3, 60, "three failed attempts")
        assert kit.committed(kafka_settings) == {}, "nothing may be committed while the batch fails"
        assert _total(metrics, "veille_posts_consumed_total") == 0
        kit.wait_until(lambda: _lag(metrics) > 0, 10, "the lag gauge to show the stalled records")
        flaky_store.healthy.set()
        kit.wait_committed(kafka_settings, ends, running=running)
    finally:
        running.join()

    assert running.worker.failed_attempts >= 3
    stored = kit.stored_ids(store)
    assert sorted(stored) == sorted(expected)
    # Retries replay the same records: the failed attempts saw alerts the final run stored.
    failed_ids = {alert_id for batch in flaky_store.attempted_batches for alert_id in batch}
    assert failed_ids <= set(expected)
    assert sorted(sink.delivered) == sorted(expected), "each stored alert delivered once"
    assert _total(metrics, "veille_alerts_raised_total") == len(expected), "retries are not new alerts"
    assert _total(metrics, "veille_posts_consumed_total") == len(posts)


def test_a_failing_sink_never_holds_back_the_commit_and_gets_everything_once_back(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore,
    metrics: Metrics, post_mix: list[Post],
) -> None:
    posts, expected, ends = _produce_200(kit, kafka_settings, real_pipeline, post_mix)
    sink = _FlakySink()
    running = kit.start_worker(kafka_settings, real_pipeline, store, [sink], metrics,
                               retry_backoff_s=(0.05, 0.2))
    try:
        # The sink refuses everything, yet every record is stored and committed.
        kit.wait_committed(kafka_settings, ends, running=running)
        assert sorted(kit.stored_ids(store)) == sorted(expected)
        kit.wait_until(lambda: sink.failures >= 3, 30, "the sink to fail three times")
        assert sink.delivered == []
        assert running.backlog() == len(expected)
        sink.healthy.set()
        kit.wait_until(lambda: running.backlog() == 0, 30, "the backlog to drain")
    finally:
        running.join()
    assert running.worker.failed_attempts == 0, "a sink failure is not a batch failure"
    assert sorted(sink.delivered) == sorted(expected), "each stored alert delivered once"
    assert _total(metrics, "veille_posts_consumed_total") == len(posts)


def test_two_workers_in_one_group_share_the_partitions(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, post_mix: list[Post],
) -> None:
    from prometheus_client import CollectorRegistry

    expected = kit.expected_alerts(real_pipeline, post_mix)
    second_pipeline = build_pipeline(kafka_settings)
    consumers = [make_consumer(kafka_settings, client_id=f"w{index}") for index in (1, 2)]
    pipelines = [kit.RecordingPipeline(real_pipeline), kit.RecordingPipeline(second_pipeline)]
    sinks = [MemorySink(), MemorySink()]
    workers = [
        kit.start_worker(kafka_settings, pipelines[i], store, [sinks[i]], Metrics.create(CollectorRegistry()),
                         consumer=consumers[i])
        for i in (0, 1)
    ]
    try:
        all_partitions = {TopicPartition(topic, p) for topic in kafka_settings.input_topics for p in range(4)}

        def balanced() -> bool:
            one, two = (set(consumer.assignment()) for consumer in consumers)
            return bool(one) and bool(two) and not one & two and one | two == all_partitions

        kit.wait_until(balanced, 60, "both workers to own disjoint halves of the partitions")
        ends = kit.produce_posts(kafka_settings, post_mix)
        kit.wait_committed(kafka_settings, ends, running=workers[0])
    finally:
        for running in workers:
            running.join()

    assert pipelines[0].seen and pipelines[1].seen, "both workers processed posts"
    assert not set(pipelines[0].seen) & set(pipelines[1].seen)
    # Both workers deliver the same sink (one cursor, "memory"): its lease lets one at a time send,
    # and a batch replayed after a refused commit is stored, hence queued, only once.
    published = [alert.id for sink in sinks for alert in sink.published]
    assert sorted(published) == sorted(expected), "each alert delivered exactly once"
    assert sorted(kit.stored_ids(store)) == sorted(expected), "the store holds each alert exactly once"
