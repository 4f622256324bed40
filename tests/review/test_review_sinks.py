"""Alertmanager and webhook sinks against real receivers: Debian's Alertmanager and a local HTTP server."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alerts.model import Alert, Evidence, Severity, alert_id
from alerts.sinks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AlertmanagerSink,
    SinkError,
    WebhookSink,
    verify_signature,
)
from monitor.metrics import Metrics

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
SECRET = b"webhook-test-secret"
RAW = "claire.durand@example.org"


def _alert(i: int, *, silenced: bool = False) -> Alert:
    return Alert(
        id=alert_id(f"p{i}", "fr.pii.email"), rule_id="fr.pii.email", rule_title="E-mail address in a post",
        severity=Severity.HIGH, jurisdiction="FR", source="external", channel="x", post_id=f"p{i}",
        author_id="a1", author_role="customer", post_created_at=datetime.now(UTC), policy_version="v",
        evidence=[Evidence(detector="pii", type="EMAIL_ADDRESS", start=0, end=len(RAW), score=0.9,
                           snippet="[EMAIL_ADDRESS]", span=RAW, personal=True)],
        silenced=silenced,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Alertmanager:
    def __init__(self, tmp: Path, port: int) -> None:
        config = tmp / "alertmanager.yml"
        config.write_text("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            assert self.process.poll() is None, self.process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "alertmanager did not become ready"
            time.sleep(0.1)

    def alerts(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/api/v2/alerts", timeout=5).json())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_alertmanager(tmp_path: Path) -> Iterator[Any]:
    started: list[_Alertmanager] = []

    def start(port: int) -> _Alertmanager:
        started.append(_Alertmanager(tmp_path, port))
        return started[-1]

    yield start
    for am in started:
        am.stop()


def test_alertmanager_receives_labels_and_annotations(start_alertmanager: Any) -> None:
    am = start_alertmanager(_free_port())
    sink = AlertmanagerSink(am.url, public_url="https://veille.example.org/", backoff_s=0.01)
    try:
        sink.publish([_alert(1), _alert(2, silenced=True)])
    finally:
        sink.close()
    [received] = am.alerts()
    assert {k: received["labels"][k] for k in ("rule", "severity", "jurisdiction", "alert_id")} == {
        "rule": "fr.pii.email", "severity": "high", "jurisdiction": "FR", "alert_id": _alert(1).id,
    }  # fmt: skip
    assert received["annotations"] == {
        "title": "E-mail address in a post",
        "link": f"https://veille.example.org/api/v1/alerts/{_alert(1).id}",
    }
    assert RAW not in json.dumps(received)


def test_a_down_alertmanager_fails_the_batch_after_retries_and_gets_it_once_back(
    start_alertmanager: Any,
) -> None:
    port = _free_port()
    metrics = Metrics.create(CollectorRegistry())
    delays: list[float] = []
    sink = AlertmanagerSink(f"http://127.0.0.1:{port}", attempts=3, backoff_s=0.2, metrics=metrics,
                            sleep=delays.append)  # fmt: skip
    try:
        with pytest.raises(SinkError, match=r"sink alertmanager: ConnectError from .* after 3 attempts"):
            sink.publish([_alert(1)])
        assert delays == [0.2, 0.4]  # doubling backoff between the three attempts
        assert metrics.sink_retries.labels("alertmanager")._value.get() == 2
        # The worker keeps its offsets and publishes the same batch again once the receiver is back.
        am = start_alertmanager(port)
        sink.publish([_alert(1)])
    finally:
        sink.close()
    assert [a["labels"]["alert_id"] for a in am.alerts()] == [_alert(1).id]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if len(type(self).received) <= type(self).fail_first:
            self.send_response(503)
            self.end_headers()
            return
        ok = verify_signature(SECRET, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER])
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Handler", (_Receiver,), {"received": [], "fail_first": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_webhook_is_signed_and_retried_until_delivered(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.fail_first = 2
    sink = WebhookSink(url, SECRET, attempts=4, backoff_s=0.01)
    try:
        sink.publish([_alert(1), _alert(2)])
    finally:
        sink.close()
    assert len(handler.received) == 3  # two 503s, then accepted
    headers, body = handler.received[-1]
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(b"another-secret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert [a["id"] for a in payload["alerts"]] == [_alert(1).id, _alert(2).id]
    assert RAW not in body.decode()  # masked evidence only


def test_webhook_with_a_wrong_secret_is_refused_without_retrying(
    receiver: tuple[str, type[_Receiver]],
) -> None:
    url, handler = receiver
    sink = WebhookSink(url, b"not-the-receivers-secret", attempts=4, backoff_s=0.01)
    try:
        with pytest.raises(SinkError, match=r"HTTP 401 from .*: the receiver refused the batch"):
            sink.publish([_alert(1)])
    finally:
        sink.close()
    assert len(handler.received) == 1
