"""Where new alerts go besides the store: a Kafka topic (and, later, Alertmanager and webhooks).

The run loop commits input offsets only after every sink's ``publish`` returned, so a sink must not
return before its receiver has the alerts (for Kafka: acknowledged by the broker), and must raise
``SinkError`` rather than drop them. Publishing is at-least-once: receivers dedupe on ``Alert.id``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from alerts.model import Alert

if TYPE_CHECKING:
    from kafka import KafkaProducer

    from monitor.settings import Settings


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
    """Publishes each alert as JSON to ``settings.alerts_topic``, keyed by alert id (compaction-friendly)."""

    name = "kafka"

    def __init__(self, settings: Settings, producer: KafkaProducer | None = None,
                 *, timeout_s: float = 30.0) -> None:
        from monitor.kafka_io import make_producer

        self.topic = settings.alerts_topic
        self._owns_producer = producer is None
        self._producer = producer or make_producer(settings, client_id="veille-alerts")
        self._timeout_s = timeout_s

    def publish(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        from kafka.errors import KafkaError

        from monitor.kafka_io import await_acks

        try:
            futures = [self._producer.send(self.topic, key=alert.id.encode(), value=alert_json(alert))
                       for alert in alerts]
            await_acks(self._producer, futures, self._timeout_s)
        except KafkaError as exc:
            raise SinkError(self.name, f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self._owns_producer:
            self._producer.close(timeout=5)


class MemorySink:
    """Keeps published alerts in a list: for tests and for embedding Veille as a library."""

    name = "memory"

    def __init__(self) -> None:
        self.published: list[Alert] = []

    def publish(self, alerts: Sequence[Alert]) -> None:
        self.published.extend(alerts)

    def close(self) -> None:
        return None
