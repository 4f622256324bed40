"""The worker's alert sinks, built from the settings: the sinks themselves (``alerts.sinks``) only
ever see their own :class:`SinkConfig` and the Kafka producer they are handed. They deliver from the
outbox (``monitor.delivery``), never from the run loop."""

from __future__ import annotations

from kafka import KafkaProducer

from alerts.sinks import AlertSink, KafkaAlertSink, SinkConfig, build_http_sinks
from monitor.settings import Settings


def sink_config(settings: Settings) -> SinkConfig:
    return SinkConfig(
        alerts_topic=settings.alerts_topic,
        alertmanager_url=settings.alertmanager_url,
        public_url=settings.public_url,
        webhook_urls=settings.webhook_urls,
        webhook_secret=settings.webhook_secret,
    )


def build_sinks(settings: Settings, producer: KafkaProducer) -> list[AlertSink]:
    """The alerts topic (through ``producer``, which the Kafka sink closes) always; Alertmanager and
    signed webhooks when the settings name them."""
    config = sink_config(settings)
    return [KafkaAlertSink(producer, config.alerts_topic), *build_http_sinks(config)]
