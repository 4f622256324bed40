"""The run loop's operational metrics on a real broker: batch retries, end-to-end latency, and the
outbox delivery's failures, deliveries and backlog per sink."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from alerts.model import Alert
from alerts.outbox import Outbox
from alerts.sinks import SinkError
from alerts.store import SqlAlertStore
from monitor.delivery import Delivery
from monitor.kafka_io import committed_offsets
from monitor.metrics import BATCH_STAGES, Metrics
from monitor.pipeline import build_pipeline
from monitor.produce import topic_for_sources
from monitor.records import DLQ_REASONS
from monitor.runner import Worker
from monitor.settings import Settings
from monitor.traffic import generate_posts

pytestmark = pytest.mark.kafka

AGE_S = 5.0


class FlakySink:
    """Refuses its first ``failures`` batches that carry alerts, then accepts everything."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[Alert] = []

    def publish(self, alerts: Sequence[Alert]) -> None:
        if alerts and self.failures:
            self.failures -= 1
            raise SinkError(self.name, "receiver unavailable")
        self.published.extend(alerts)

    def close(self) -> None:
        return None


def test_sink_failures_deliveries_backlog_and_post_to_alert_latency_are_recorded(
    kafka_settings: Settings, ops: Any,
) -> None:
    settings = kafka_settings.model_copy(update={"delivery_poll_seconds": 0.05, "sink_backoff_seconds": 0.05,
                                                 "sink_backoff_max_seconds": 0.1})
    pipeline = build_pipeline(Settings())
    now = datetime.now(UTC)
    # Posts written AGE_S seconds ago, of which some raise alerts.
    pool = [post.model_copy(update={"created_at": now - timedelta(seconds=AGE_S)})
            for post in generate_posts(400, seed=31)]
    posts = [result.post for result in pipeline.process(pool) if result.alerts][:20]
    assert len(posts) >= 5
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    sink = FlakySink(failures=2)
    store = SqlAlertStore.open(settings.resolved_database_url)
    stop = threading.Event()
    delivery = Delivery(settings, Outbox(store.engine), [sink], metrics).start()
    worker = Worker(settings, pipeline, store, metrics, retry_backoff_s=(0.05, 0.1))
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # Series exist at zero as soon as the worker and the delivery start, before any record.
        ops.wait_until(lambda: registry.get_sample_value(
            "veille_sink_failures_total", {"sink": "flaky"}) == 0, 30, "zeroed series")
        ops.wait_until(lambda: registry.get_sample_value("veille_sink_backlog", {"sink": "flaky"}) == 0, 30,
                       "the backlog gauge")
        assert registry.get_sample_value("veille_sink_deliveries_total", {"sink": "flaky"}) == 0
        for stage in BATCH_STAGES:
            assert registry.get_sample_value("veille_batch_retries_total", {"stage": stage}) == 0
        for topic in settings.input_topics:
            assert registry.get_sample_value("veille_posts_consumed_total", {"topic": topic}) == 0
            for reason in DLQ_REASONS:
                assert registry.get_sample_value(
                    "veille_records_dead_lettered_total", {"topic": topic, "reason": reason}) == 0

        routing = topic_for_sources(settings)
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        try:
            for post in posts:
                producer.send(routing[post.source], key=post.author.id.encode(),
                              value=post.model_dump_json().encode())
            producer.flush(30)
        finally:
            producer.close(5)
        ops.wait_until(lambda: sum(committed_offsets(settings).values()) == len(posts), 60,
                       "every post committed")
        ops.wait_until(lambda: delivery.outbox.backlog("flaky").pending == 0, 30, "the sink to catch up")
    finally:
        stop.set()
        thread.join(30)
        delivery.stop()
        store.close()
    assert not thread.is_alive()

    assert registry.get_sample_value("veille_sink_failures_total", {"sink": "flaky"}) == 2
    # A failing sink is no failing batch: consumption never retried for it.
    for stage in BATCH_STAGES:
        assert registry.get_sample_value("veille_batch_retries_total", {"stage": stage}) == 0, stage
    raised = sum(sample.value for family in registry.collect() if family.name == "veille_alerts_raised"
                 for sample in family.samples if sample.name.endswith("_total"))
    assert raised == len(sink.published) == len({alert.id for alert in sink.published}) > 0
    assert registry.get_sample_value("veille_sink_deliveries_total", {"sink": "flaky"}) == raised
    assert registry.get_sample_value("veille_sink_backlog", {"sink": "flaky"}) == 0
    assert registry.get_sample_value("veille_sink_oldest_undelivered_seconds", {"sink": "flaky"}) == 0
    # Latency counts each new alert once (the retried batches found them already stored), and is the
    # age of the post: AGE_S plus processing, well under the 30 s bucket.
    count = sum(registry.get_sample_value("veille_alert_latency_seconds_count", {"severity": s}) or 0
                for s in ("info", "low", "medium", "high", "critical"))
    assert count == raised
    below_age = sum(registry.get_sample_value("veille_alert_latency_seconds_bucket",
                                              {"severity": s, "le": "2.5"}) or 0
                    for s in ("info", "low", "medium", "high", "critical"))
    within_30s = sum(registry.get_sample_value("veille_alert_latency_seconds_bucket",
                                               {"severity": s, "le": "30.0"}) or 0
                     for s in ("info", "low", "medium", "high", "critical"))
    assert below_age == 0 and within_30s == count
