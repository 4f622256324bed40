"""A sink down for a minute while posts keep flowing: consumption goes on, the backlog and its age show
the outage, and once the receiver is back it gets every alert exactly once.

Real broker (both kinds), real pipeline, real SQLite store, a real local webhook receiver that stops
listening for ``VEILLE_TEST_SINK_OUTAGE_SECONDS`` (60 by default, as the issue asks) and comes back on
the same port, recording every alert it acknowledges.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from prometheus_client import CollectorRegistry

from alerts.outbox import Outbox
from alerts.sinks import WebhookSink
from alerts.store import SqlAlertStore
from alerts.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from monitor.delivery import Delivery
from monitor.kafka_io import committed_offsets, send_records
from monitor.metrics import Metrics
from monitor.pipeline import build_pipeline
from monitor.produce import topic_for_sources
from monitor.runner import Worker
from monitor.settings import Settings
from monitor.traffic import generate_posts
from policies.post import Post

OUTAGE_S = float(os.environ.get("VEILLE_TEST_SINK_OUTAGE_SECONDS", "60"))
WAVES = 4  # batches of posts produced while the receiver is down
SECRET = b"outage-test-secret"


class Receiver:
    """A webhook receiver that can go away and come back on the same port."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not verify_signature(SECRET, self.headers[TIMESTAMP_HEADER], body,
                                        self.headers[SIGNATURE_HEADER]):
                    self.send_response(401)
                else:
                    receiver.accepted.extend(alert["id"] for alert in json.loads(body)["alerts"])
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(0.1)


def _produce(settings: Settings, posts: list[Post]) -> dict[TopicPartition, int]:
    routing = topic_for_sources(settings)
    return send_records(settings, [(routing[post.source], post.author.id.encode(),
                                    post.model_dump_json().encode()) for post in posts])


def _gauge(metric: Any, sink: str) -> float:
    return float(metric.labels(sink)._value.get())


def test_a_webhook_down_for_a_minute_gets_every_alert_once_when_it_is_back(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={
        "delivery_poll_seconds": 0.1, "sink_backoff_seconds": 0.2, "sink_backoff_max_seconds": 5.0,
    })
    pipeline = build_pipeline(Settings())
    pool = list(generate_posts(2000, seed=41))
    alerting = [result.post for result in pipeline.process(pool) if result.alerts]
    waves = [alerting[i::WAVES + 1] for i in range(WAVES + 1)]  # one wave before the outage
    expected = {alert.id for result in pipeline.process(alerting) for alert in result.alerts}
    assert all(waves) and len(expected) >= 50

    receiver = Receiver()
    receiver.start()
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    store = SqlAlertStore.open(settings.resolved_database_url)
    sink = WebhookSink(f"http://127.0.0.1:{receiver.port}/hooks/outage", SECRET)
    delivery = Delivery(settings, Outbox(store.engine), [sink], metrics).start()
    worker = Worker(settings, pipeline, store, metrics, retry_backoff_s=(0.1, 1.0))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    ends: dict[TopicPartition, int] = {}

    def committed() -> bool:
        offsets = committed_offsets(settings)
        return all(offsets.get(tp) == end for tp, end in ends.items())

    try:
        ends.update(_produce(settings, waves[0]))
        _wait(committed, 90, "the first wave committed")
        _wait(lambda: delivery.outbox.backlog(sink.name).pending == 0, 30, "the first wave delivered")
        delivered_before = len(receiver.accepted)

        receiver.stop()
        down_at = time.monotonic()
        for index, wave in enumerate(waves[1:], 1):
            for tp, end in _produce(settings, wave).items():
                ends[tp] = max(ends.get(tp, 0), end)
            # Consumption goes on while the receiver is down.
            _wait(committed, 60, f"wave {index} committed while the sink is down")
            time.sleep(max(0.0, down_at + OUTAGE_S * index / WAVES - time.monotonic()))
        waiting = delivery.outbox.backlog(sink.name)
        assert waiting.pending == len(expected) - delivered_before
        assert waiting.oldest_age_s >= OUTAGE_S * 0.9
        # The gauges are refreshed from the store every few seconds, by every deliverer.
        _wait(lambda: _gauge(metrics.sink_backlog, sink.name) == waiting.pending, 15, "the backlog gauge")
        assert _gauge(metrics.sink_oldest_undelivered_seconds, sink.name) >= OUTAGE_S * 0.8
        assert registry.get_sample_value("veille_sink_failures_total", {"sink": sink.name}) >= 3
        assert worker.failed_attempts == 0, "no batch was retried because of the sink"
        assert len(receiver.accepted) == delivered_before

        receiver.start()  # same port
        back_at = time.monotonic()
        _wait(lambda: delivery.outbox.backlog(sink.name).pending == 0, 30, "the backlog delivered")
        # The backoff is capped: the first retry after the return comes within the cap.
        assert time.monotonic() - back_at <= settings.sink_backoff_max_seconds + 10
    finally:
        stop.set()
        thread.join(30)
        delivery.stop()
        receiver.stop()
        store.close()
    assert not thread.is_alive()
    counts = Counter(receiver.accepted)
    assert set(counts) == expected, "every alert delivered"
    assert set(counts.values()) == {1}, f"delivered twice: {[i for i, n in counts.items() if n > 1][:5]}"
    assert registry.get_sample_value("veille_sink_deliveries_total", {"sink": sink.name}) == len(expected)
