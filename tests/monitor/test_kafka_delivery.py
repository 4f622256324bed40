"""Sinks deliver from the outbox, apart from consumption: on a real broker, with the real pipeline and a
real local webhook receiver that checks every signature."""

from __future__ import annotations

import http.server
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.outbox import Outbox
from alerts.sinks import WebhookSink
from alerts.store import SqlAlertStore
from alerts.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from monitor.demo import child_env
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from policies.post import Post

pytestmark = pytest.mark.kafka

SECRET = b"hook-signing-secret"
# Receivers put their secrets in the path and the query: neither may reach a log, an error or a label.
SECRET_PATH = "T024BE7LD/B04TQ8L1Y/s3cr3tPathToken"
SECRET_QUERY = "hunter2-query-token"


class Hook:
    """A webhook receiver answering ``status``; records the alert ids of every signed request it
    accepts."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.accepted: list[str] = []
        self.refused = 0
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = verify_signature(SECRET, self.headers[TIMESTAMP_HEADER], body,
                                          self.headers[SIGNATURE_HEADER])
                status = hook.status if signed else 401
                if status < 300:
                    hook.accepted.extend(alert["id"] for alert in json.loads(body)["alerts"])
                else:
                    hook.refused += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{SECRET_PATH}?token={SECRET_QUERY}"


@pytest.fixture
def hook() -> Iterator[Hook]:
    hook = Hook(410)
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()
    thread.join(5)


def _sample(metric: Any, sink: str) -> float:
    for family in metric.collect():
        for sample in family.samples:
            if sample.labels.get("sink") == sink and not sample.name.endswith("_created"):
                return float(sample.value)
    return 0.0


def _labels(metrics: Metrics) -> set[str]:
    return {value for metric in (metrics.sink_deliveries, metrics.sink_failures, metrics.sink_backlog,
                                 metrics.sink_oldest_undelivered_seconds)
            for family in metric.collect() for sample in family.samples for value in sample.labels.values()}


@pytest.mark.parametrize("status", [404, 410])
def test_a_webhook_answering_gone_never_stalls_consumption_and_leaks_no_secret(
    status: int, kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore,
    metrics: Metrics, post_mix: list[Post], hook: Hook, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the HTTP client's request lines included
    # configure_logging (run by any CLI test earlier in this process) keeps httpx at WARNING; open it
    # here so that the sink's own filter is what keeps the URL's path out of its request lines.
    caplog.set_level(logging.DEBUG, logger="httpx")
    hook.status = status
    sink = WebhookSink(hook.url, SECRET)
    first, second = post_mix[:200], post_mix[200:400]
    expected_first = kit.expected_alerts(real_pipeline, first)
    expected = {**expected_first, **kit.expected_alerts(real_pipeline, second)}
    assert len(expected) > len(expected_first) > 0
    ends = kit.produce_posts(kafka_settings, first)
    running = kit.start_worker(kafka_settings, real_pipeline, store, [sink], metrics)
    try:
        # The receiver refuses every delivery, yet every record is stored and its offset committed.
        kit.wait_committed(kafka_settings, ends, running=running)
        assert sorted(kit.stored_ids(store)) == sorted(expected_first)
        kit.wait_until(lambda: _sample(metrics.sink_backlog, sink.name) == len(expected_first), 20,
                       "the backlog gauge to count the undelivered alerts")
        ends = kit.merge_ends(ends, kit.produce_posts(kafka_settings, second))
        kit.wait_committed(kafka_settings, ends, running=running)
        kit.wait_until(lambda: _sample(metrics.sink_backlog, sink.name) == len(expected), 20,
                       "the backlog gauge to grow with the stored alerts")
        assert hook.accepted == [] and hook.refused >= 2
        assert _sample(metrics.sink_failures, sink.name) >= 2
        assert _sample(metrics.sink_oldest_undelivered_seconds, sink.name) > 0
        [cursor] = running.delivery.outbox.cursors()
        assert cursor["attempts"] >= 2 and cursor["failing_since"] is not None
        assert cursor["last_error"] == f"HTTP {status}: the receiver refused the batch"
        assert running.worker.failed_attempts == 0, "consumption never retried for a sink"

        hook.status = 204  # the receiver is fixed
        kit.wait_until(lambda: running.backlog() == 0, 30, "the backlog to drain")
    finally:
        running.join()

    counts = Counter(hook.accepted)
    assert set(counts) == set(expected) and set(counts.values()) == {1}, "every alert delivered once"
    assert _sample(metrics.sink_deliveries, sink.name) == len(expected)
    assert _sample(metrics.sink_backlog, sink.name) == 0
    for secret in (SECRET_PATH, SECRET_QUERY, SECRET.decode(), hook.url):
        assert secret not in caplog.text, f"{secret!r} in the logs"
        assert not any(secret in str(record.args) for record in caplog.records)
        assert not any(secret in label for label in _labels(metrics)), f"{secret!r} in a metric label"
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text, "the client's own line, origin only"


def _veille(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], env=env, stdout=handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise AssertionError(f"did not stop on SIGTERM:\n{log.read_text()[-3000:]}") from None


def test_veille_deliver_delivers_what_workers_without_delivery_stored(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, post_mix: list[Post], hook: Hook,
    tmp_path: Path,
) -> None:
    """`veille run` with VEILLE_DELIVERY_IN_WORKERS=false stores and commits but sends nothing; a separate
    `veille deliver` sends every alert to the alerts topic and the webhook, and stops cleanly."""
    hook.status = 204
    posts = post_mix[:150]
    expected = kit.expected_alerts(real_pipeline, posts)
    env = child_env(kafka_settings) | {
        "VEILLE_DELIVERY_IN_WORKERS": "false", "VEILLE_DELIVERY_POLL_SECONDS": "0.1",
        "VEILLE_WEBHOOK_URLS": json.dumps([hook.url]), "VEILLE_WEBHOOK_SECRET": SECRET.decode(),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    logs = {"run": tmp_path / "run.log", "deliver": tmp_path / "deliver.log"}
    worker = _veille(["run"], env, logs["run"])
    deliverer = None
    try:
        ends = kit.produce_posts(kafka_settings, posts)
        kit.wait_committed(kafka_settings, ends, timeout_s=90)
        time.sleep(1)
        assert hook.accepted == [], "the worker itself delivers nothing"
        status = subprocess.run([sys.executable, "-m", "monitor.cli", "deliver", "--status"], env=env,
                                capture_output=True, text=True, timeout=60, check=True)
        pending = {row["sink"]: row["pending"] for row in map(json.loads, status.stdout.splitlines())}
        assert pending == {"kafka": len(expected), WebhookSink(hook.url, SECRET).name: len(expected)}

        deliverer = _veille(["deliver"], env, logs["deliver"])
        kit.wait_until(lambda: len(hook.accepted) == len(expected), 60, "the webhook deliveries")
        records = kit.read_topic(kafka_settings, kafka_settings.alerts_topic, len(expected))
        assert sorted(record.key.decode() for record in records) == sorted(expected)
    finally:
        codes = {name: _stop(process, logs[name])
                 for name, process in (("deliver", deliverer), ("run", worker)) if process is not None}
    assert codes == {"deliver": 0, "run": 0}, {name: logs[name].read_text()[-2000:] for name in codes}
    assert sorted(hook.accepted) == sorted(expected)
    store = SqlAlertStore.open(kafka_settings.resolved_database_url)
    try:
        cursors = Outbox(store.engine).cursors()
    finally:
        store.close()
    assert {cursor["lease_owner"] for cursor in cursors} == {None}, "leases released on SIGTERM"
    for log in logs.values():
        assert SECRET_PATH not in log.read_text() and SECRET_QUERY not in log.read_text()
