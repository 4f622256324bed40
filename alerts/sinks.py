"""Where stored alerts go besides the store: a Kafka topic, Prometheus Alertmanager, signed webhooks.

Sinks never see the run loop: they deliver from the outbox (:mod:`alerts.outbox`), which hands each
one a batch of stored alerts and moves the sink's cursor only after ``publish`` returned. So a sink must
not return before its receiver has the alerts (for Kafka: acknowledged by the broker), and must raise
``SinkError`` rather than drop them. One ``publish`` is one attempt: the outbox retries with backoff.

A sink's ``name`` is its cursor's key and its metric label, and the only way logs, errors and metrics
refer to it: for an HTTP sink it holds ``scheme://host[:port]``, never the path, query or user info of
its URL, where receivers put their secrets.

A sink is handed its client (the Kafka producer) and its own :class:`SinkConfig`: building both from
the application's settings is the caller's job.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from alerts.model import Alert
from alerts.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

if TYPE_CHECKING:
    import httpx
    from kafka import KafkaProducer

log = logging.getLogger(__name__)

# sink_cursors.sink is VARCHAR(64).
MAX_SINK_NAME_CHARS = 64
HTTP_TIMEOUT_S = 10.0
KAFKA_TIMEOUT_S = 30.0


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


class SinkError(RuntimeError):
    """A sink could not deliver a batch; the outbox keeps its cursor and retries later."""

    def __init__(self, sink: str, message: str) -> None:
        super().__init__(f"sink {sink}: {message}")
        self.sink = sink
        self.problem = message


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


def safe_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: what may be shown of a sink's address. User info, path and
    query, where secrets live, are dropped; an unparsable URL shows as ``invalid-url``."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "invalid-url"
    if not parts.scheme or not host:
        return "invalid-url"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def webhook_name(url: str) -> str:
    """``webhook:<origin>#<8 hex>``: stable for one URL and distinct for two on the same host.

    The digest tells URLs apart without showing them; 32 bits of a SHA-256 reveal nothing usable about
    a secret path.
    """
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    origin = safe_origin(url)[: MAX_SINK_NAME_CHARS - len("webhook:#") - len(digest)]
    return f"webhook:{origin}#{digest}"


def sink_names(config: SinkConfig) -> list[str]:
    """The names of the sinks :func:`build_http_sinks` and the Kafka sink make from ``config``."""
    names = [KafkaAlertSink.name]
    if config.alertmanager_url:
        names.append(AlertmanagerSink.name)
    names.extend(webhook_name(url) for url in config.webhook_urls)
    return names


class KafkaAlertSink:
    """Publishes each alert as JSON to ``topic``, keyed by alert id (compaction-friendly), through the
    producer it is handed; closing the sink closes that producer."""

    name = "kafka"

    def __init__(self, producer: KafkaProducer, topic: str, *, timeout_s: float = KAFKA_TIMEOUT_S) -> None:
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

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.published: list[Alert] = []

    def publish(self, alerts: Sequence[Alert]) -> None:
        self.published.extend(alerts)

    def close(self) -> None:
        return None


# --- HTTP sinks: Alertmanager and webhooks ---


class _OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO: keep only its origin (see :func:`safe_origin`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        import httpx

        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(safe_origin(str(arg)) if isinstance(arg, httpx.URL) else arg
                                for arg in record.args)
        return True


def _hide_paths_in_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _OriginOnly) for existing in logger.filters):
        logger.addFilter(_OriginOnly())


class _HttpSink:
    """One POST per publish. Success is any 2xx; anything else (connection error, timeout, any other
    status) raises :class:`SinkError` naming the problem and the sink, never the URL or the receiver's
    answer (which may echo the payload)."""

    name = "http"

    def __init__(self, url: str, *, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        import httpx

        _hide_paths_in_httpx_logs()
        self._url = url
        self._client: httpx.Client = httpx.Client(timeout=timeout_s)

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        import httpx

        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # The exception's text may quote the URL: its type says enough (ConnectError, ReadTimeout).
            raise SinkError(self.name, type(exc).__name__) from None
        if not response.is_success:
            raise SinkError(self.name, f"HTTP {response.status_code}: the receiver refused the batch")

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
    with HMAC-SHA256 in ``X-Veille-Signature`` over ``X-Veille-Timestamp + "." + body``; receivers check
    both with :func:`alerts.webhook_signature.verify_signature`."""

    def __init__(self, url: str, secret: bytes, **kwargs: Any) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret to sign with (VEILLE_WEBHOOK_SECRET)")
        super().__init__(url, **kwargs)
        self.name = webhook_name(url)
        self._secret = secret

    def publish(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        body = json.dumps(
            {"alerts": [alert_payload(a) for a in alerts]}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        # Signed when sent: a batch retried later carries a fresh timestamp, within the receiver's tolerance.
        timestamp = str(int(datetime.now(UTC).timestamp()))
        self._post(body, {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        })


def build_http_sinks(config: SinkConfig) -> list[AlertSink]:
    """The Alertmanager and webhook sinks the config asks for (none by default)."""
    sinks: list[AlertSink] = []
    if config.alertmanager_url:
        sinks.append(AlertmanagerSink(config.alertmanager_url, public_url=config.public_url))
    if config.webhook_urls:
        if config.webhook_secret is None:
            raise ValueError(
                "VEILLE_WEBHOOK_URLS is set but VEILLE_WEBHOOK_SECRET is not: webhooks are always signed"
            )
        secret = config.webhook_secret.get_secret_value().encode()
        sinks.extend(WebhookSink(url, secret) for url in config.webhook_urls)
    names = [sink.name for sink in sinks]
    if len(set(names)) != len(names):
        raise ValueError("VEILLE_WEBHOOK_URLS lists the same URL twice: each webhook needs its own cursor")
    return sinks
