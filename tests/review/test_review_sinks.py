"""Alertmanager and webhook sinks against real receivers: Debian's Alertmanager and a local HTTP server
that checks every signature as an integrator would (``alerts.webhook_signature``). Retries go through
the outbox (``alerts.outbox``) of a real store."""

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
from alerts.outbox import Backoff, Outbox, Outcome, SinkDelivery
from alerts.sinks import AlertmanagerSink, SinkError, WebhookSink, safe_origin
from alerts.store import SqlAlertStore
from alerts.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
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
    sink = AlertmanagerSink(am.url, public_url="https://veille.example.org/")
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


@pytest.fixture
def outbox_store(tmp_path: Path) -> Iterator[SqlAlertStore]:
    store = SqlAlertStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
    try:
        yield store
    finally:
        store.close()


def test_a_down_alertmanager_is_retried_from_the_outbox_and_gets_the_alert_once_back(
    start_alertmanager: Any, outbox_store: SqlAlertStore,
) -> None:
    port = _free_port()
    registry = CollectorRegistry()
    sink = AlertmanagerSink(f"http://127.0.0.1:{port}")
    outbox = Outbox(outbox_store.engine)
    delivery = SinkDelivery(outbox, sink, "w1", backoff=Backoff(0.05, 0.2), metrics=Metrics.create(registry))
    outbox.register([sink.name])
    outbox_store.add_many([_alert(1)])
    try:
        assert delivery.step() is Outcome.FAILED
        with pytest.raises(SinkError, match=r"^sink alertmanager: ConnectError$"):
            sink.publish([_alert(1)])
        assert outbox.cursors()[0]["last_error"] == "ConnectError"
        assert registry.get_sample_value("veille_sink_failures_total", {"sink": "alertmanager"}) == 1
        # The cursor stayed: the same alert goes out once the receiver is back.
        am = start_alertmanager(port)
        time.sleep(0.2)  # past the backoff
        assert delivery.step() is Outcome.DELIVERED
        assert delivery.step() is Outcome.IDLE
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


def test_webhook_is_signed_and_retried_from_the_outbox_until_delivered(
    receiver: tuple[str, type[_Receiver]], outbox_store: SqlAlertStore,
) -> None:
    url, handler = receiver
    handler.fail_first = 2
    sink = WebhookSink(url, SECRET)
    outbox = Outbox(outbox_store.engine)
    delivery = SinkDelivery(outbox, sink, "w1", backoff=Backoff(0.02, 0.05))
    outbox.register([sink.name])
    outbox_store.add_many([_alert(1), _alert(2)])
    stop = threading.Event()
    thread = threading.Thread(target=delivery.run, args=(stop,), kwargs={"poll_s": 0.01})
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while outbox.backlog(sink.name).pending and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
        sink.close()
    assert len(handler.received) == 3  # two 503s, then accepted
    headers, body = handler.received[-1]
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(b"another-secret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert [a["id"] for a in payload["alerts"]] == [_alert(1).id, _alert(2).id]
    assert RAW not in body.decode()  # masked evidence only
    assert outbox.backlog(sink.name).pending == 0


def test_webhook_with_a_wrong_secret_is_refused_and_the_error_names_no_url(
    receiver: tuple[str, type[_Receiver]],
) -> None:
    url, handler = receiver
    sink = WebhookSink(url, b"not-the-receivers-secret")
    try:
        with pytest.raises(SinkError) as raised:
            sink.publish([_alert(1)])
    finally:
        sink.close()
    assert str(raised.value) == f"sink {sink.name}: HTTP 401: the receiver refused the batch"
    assert sink.name.startswith(f"webhook:{safe_origin(url)}#") and "/hook" not in sink.name
    assert len(handler.received) == 1


def test_the_receiver_refuses_a_signature_outside_the_tolerance_or_malformed() -> None:
    body = b'{"alerts":[]}'
    now = 1_800_000_000
    fresh = str(now - 60)
    assert verify_signature(SECRET, fresh, body, sign(SECRET, fresh, body), now=now)
    for offset in (-299, 300):  # within 5 minutes either way
        stamp = str(now + offset)
        assert verify_signature(SECRET, stamp, body, sign(SECRET, stamp, body), now=now), offset
    for offset in (-301, 301, -86_400):  # a capture replayed later, or a clock far ahead
        stamp = str(now + offset)
        assert not verify_signature(SECRET, stamp, body, sign(SECRET, stamp, body), now=now), offset
    late = str(now - 600)
    assert verify_signature(SECRET, late, body, sign(SECRET, late, body), now=now, tolerance_s=900)
    for stamp, signature in (
        (None, sign(SECRET, fresh, body)), (fresh, None), ("", "sha256="), (" 1800000000", "sha256=00"),
        ("1e9", sign(SECRET, "1e9", body)), ("-" + fresh, sign(SECRET, "-" + fresh, body)),
        ("١٨٠٠٠٠٠٠٠٠", sign(SECRET, "١٨٠٠٠٠٠٠٠٠", body)), (fresh, "sha256=é" * 9),
        ("9" * 40, sign(SECRET, "9" * 40, body)),
    ):
        assert not verify_signature(SECRET, stamp, body, signature, now=now), (stamp, signature)
