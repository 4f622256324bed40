"""Where new alerts go besides the store: a Kafka topic, Prometheus Alertmanager, signed webhooks.

The run loop commits input offsets only after every sink's ``publish`` returned, so a sink must not
return before its receiver has the alerts (for Kafka: acknowledged by the broker), and must raise
``SinkError`` rather than drop them. Publishing is at-least-once: receivers dedupe on ``Alert.id``.

A sink is handed its client (the Kafka producer) and its own :class:`SinkConfig`: building both from
the application's settings is the caller's job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from alerts.model import Alert

if TYPE_CHECKING:
    import httpx
    from kafka import KafkaProducer

log = logging.getLogger(__name__)


class SinkConfig(BaseModel):
    """What the sinks are told: their slice of the application's settings (which hold the defaults),
    and nothing else."""

    model_config = ConfigDict(frozen=True)

    alerts_topic: str
    alertmanager_url: str | None = None
    # Base URL of the console, for links to alerts; None: links use the veille:alert/<id> scheme.
    public_url: str | None = None
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    # HTTP sinks: tries per batch, and the first retry delay (doubled at each retry).
    attempts: int = Field(ge=1)
    backoff_seconds: float = Field(gt=0)


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class _LabelledCounter(Protocol):
    def labels(self, *labelvalues: str) -> _Counter: ...


class SinkMetrics(Protocol):
    """What the sinks count (``monitor.metrics.Metrics`` fits): retries per sink name."""

    @property
    def sink_retries(self) -> _LabelledCounter: ...


class SinkError(RuntimeError):
    """A sink could not deliver a batch; the caller retries the batch (offsets stay uncommitted)."""

    def __init__(self, sink: str, message: str) -> None:
        super().__init__(f"sink {sink}: {message}")
        self.sink = sink


@runtime_checkable
class AlertSink(Protocol):
    name: str

    def publish(self, alerts: Sequence[Alert]) -> None:
        """Deliver all of ``alerts`` or raise SinkError."""

    def close(self) -> None: ...


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The alert as published outside the store: evidence keeps the masked snippet, never the raw span."""
    return alert.model_dump(mode="json", exclude={"evidence": {"__all__": {"span"}}})


def alert_json(alert: Alert) -> bytes:
    return json.dumps(alert_payload(alert), separators=(",", ":"), ensure_ascii=False).encode()


class KafkaAlertSink:
    """Publishes each alert as JSON to ``topic``, keyed by alert id (compaction-friendly), through the
    producer it is handed; closing the sink closes that producer."""

    name = "kafka"

    def __init__(self, producer: KafkaProducer, topic: str, *, timeout_s: float = 30.0) -> None:
        self.topic = topic
        self._producer = producer
        self._timeout_s = timeout_s

    def publish(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        from kafka.errors import KafkaError

        try:
            futures = [self._producer.send(self.topic, key=alert.id.encode(), value=alert_json(alert))
                       for alert in alerts]
            await_acks(self._producer, futures, self._timeout_s)
        except KafkaError as exc:
            raise SinkError(self.name, f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._producer.close(timeout=5)


def await_acks(producer: KafkaProducer, futures: Sequence[Any], timeout_s: float) -> None:
    """``flush`` waits but does not report failures: a send's error only shows on its future."""
    if not futures:
        return
    from kafka.errors import KafkaError

    producer.flush(timeout=timeout_s)
    for future in futures:
        if future.failed():
            raise future.exception
        if not future.is_done:
            raise KafkaError(f"send not acknowledged within {timeout_s:.0f} s")


class MemorySink:
    """Keeps published alerts in a list: for tests and for embedding Veille as a library."""

    name = "memory"

    def __init__(self) -> None:
        self.published: list[Alert] = []

    def publish(self, alerts: Sequence[Alert]) -> None:
        self.published.extend(alerts)

    def close(self) -> None:
        return None


# --- HTTP sinks: Alertmanager and webhooks ---

SIGNATURE_HEADER = "X-Veille-Signature"
TIMESTAMP_HEADER = "X-Veille-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp.body``: the timestamp is signed so a capture cannot be replayed
    later; receivers recompute it and compare in constant time (see :func:`verify_signature`)."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class _HttpSink:
    """POST with retries: connection errors, timeouts, 429 and 5xx are retried with doubling delays;
    another 4xx is not (the same request would be refused again) and fails the batch at once.

    Either way the batch fails with :class:`SinkError` and the worker keeps its offsets: nothing is
    lost, the batch is published again on the next attempt.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        metrics: SinkMetrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url = url
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._metrics = metrics
        self._sleep = sleep
        self._client: httpx.Client = httpx.Client(timeout=timeout_s)

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        import httpx

        delay = self._backoff_s
        problem = ""
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if response.is_success:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    # The receiver's answer may echo the payload: only the status is reported.
                    raise SinkError(self.name, f"{problem} from {self.url}: the receiver refused the batch")
            if attempt < self._attempts:
                if self._metrics is not None:
                    self._metrics.sink_retries.labels(self.name).inc()
                log.warning("sink %s: %s (attempt %d of %d); retrying in %.1f s",
                            self.name, problem, attempt, self._attempts, delay)
                self._sleep(delay)
                delay *= 2
        raise SinkError(self.name, f"{problem} from {self.url} after {self._attempts} attempts")

    def close(self) -> None:
        self._client.close()


class AlertmanagerSink(_HttpSink):
    """Posts alerts to Alertmanager's API v2 (``POST /api/v2/alerts``).

    Labels: ``alertname="VeilleAlert"``, ``rule``, ``severity``, ``jurisdiction`` and ``alert_id``
    (without it Alertmanager would merge every alert of one rule into one); annotations: ``title`` and
    ``link`` (the alert in the console when ``public_url`` is set). Silenced alerts are not sent.
    """

    name = "alertmanager"

    def __init__(self, base_url: str, *, public_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url.rstrip("/") + "/api/v2/alerts", **kwargs)
        self._public_url = public_url.rstrip("/") if public_url else None

    def payload(self, alert: Alert) -> dict[str, Any]:
        base = self._public_url
        link = f"{base}/api/v1/alerts/{alert.id}" if base else f"veille:alert/{alert.id}"
        return {
            "labels": {
                "alertname": "VeilleAlert",
                "rule": alert.rule_id,
                "severity": alert.severity.value,
                "jurisdiction": alert.jurisdiction,
                "alert_id": alert.id,
            },
            "annotations": {"title": alert.rule_title, "link": link},
            "startsAt": alert.created_at.astimezone(UTC).isoformat(),
            **({"generatorURL": link} if self._public_url else {}),
        }

    def publish(self, alerts: Sequence[Alert]) -> None:
        items = [self.payload(a) for a in alerts if not a.silenced]
        if items:
            body = json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode()
            self._post(body, {"Content-Type": "application/json"})


class WebhookSink(_HttpSink):
    """Posts ``{"alerts": [...]}`` (as on the Kafka topic: masked evidence, never a raw span), signed
    with HMAC-SHA256 in ``X-Veille-Signature`` over ``X-Veille-Timestamp + "." + body``."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, **kwargs: Any) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret to sign with (VEILLE_WEBHOOK_SECRET)")
        super().__init__(url, **kwargs)
        self._secret = secret

    def publish(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        body = json.dumps(
            {"alerts": [alert_payload(a) for a in alerts]}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        # Signed once per batch: every retry carries the same timestamp and signature.
        timestamp = str(int(datetime.now(UTC).timestamp()))
        self._post(body, {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        })


def build_http_sinks(config: SinkConfig, metrics: SinkMetrics | None = None) -> list[AlertSink]:
    """The Alertmanager and webhook sinks the config asks for (none by default)."""
    common: dict[str, Any] = {
        "attempts": config.attempts, "backoff_s": config.backoff_seconds, "metrics": metrics,
    }
    sinks: list[AlertSink] = []
    if config.alertmanager_url:
        sinks.append(AlertmanagerSink(config.alertmanager_url, public_url=config.public_url, **common))
    if config.webhook_urls:
        if config.webhook_secret is None:
            raise ValueError(
                "VEILLE_WEBHOOK_URLS is set but VEILLE_WEBHOOK_SECRET is not: webhooks are always signed"
            )
        secret = config.webhook_secret.get_secret_value().encode()
        sinks.extend(WebhookSink(url, secret, **common) for url in config.webhook_urls)
    return sinks
