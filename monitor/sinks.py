"""The worker's alert sinks, built from the settings: the sinks themselves (``alerts.sinks``) only
ever see their own :class:`SinkConfig`, the Kafka producer they are handed and the metrics."""

from __future__ import annotations

from kafka import KafkaProducer

from alerts.sinks import AlertSink, KafkaAlertSink, SinkConfig, build_http_sinks
from monitor.metrics import Metrics
from monitor.settings import Settings


def sink_config(settings: Settings) -> SinkConfig:
    return SinkConfig(
        alerts_topic=settings.alerts_topic,
        alertmanager_url=settings.alertmanager_url,
        public_url=settings.public_url,
        webhook_urls=settings.webhook_urls,
        webhook_secret=settings.webhook_secret,
        attempts=settings.sink_attempts,
        backoff_seconds=settings.sink_backoff_seconds,
    )


def build_sinks(
    settings: Settings, producer: KafkaProducer, metrics: Metrics | None = None
) -> list[AlertSink]:
    """The alerts topic (through ``producer``, which the Kafka sink closes) always; Alertmanager and
    signed webhooks when the settings name them."""
    config = sink_config(settings)
    return [KafkaAlertSink(producer, config.alerts_topic), *build_http_sinks(config, metrics)]
