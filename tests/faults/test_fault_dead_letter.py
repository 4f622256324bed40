"""A record Kafka would refuse to take back whole still reaches the DLQ, and its partition moves on."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.kafka_io import DLQ_RECORD_MAX_BYTES, DeadLetterWriter, make_producer
from monitor.settings import Settings

pytestmark = pytest.mark.kafka

HUGE_BYTES = 10 * 1024 * 1024


@pytest.mark.parametrize("kafka_broker", ["tansu"], indirect=True)
def test_a_record_too_large_to_resend_is_dead_lettered_truncated(
    kafka_settings: Settings, fault: Any
) -> None:
    """Kafka refuses records over about 1 MB: dead-lettering one whole fails on every retry of its batch
    and stalls the partition. The DLQ keeps its first bytes and says how large it was."""
    producer = make_producer(kafka_settings)
    try:
        writer = DeadLetterWriter(kafka_settings, producer)
        writer.send(value=b"x" * HUGE_BYTES, key=b"k" * 100_000, reason="too_large", detail="too large",
                    source_topic=kafka_settings.input_topics[0], source_partition=0, source_offset=7)
        writer.flush()
    finally:
        producer.close(timeout=5)
    (record,) = fault.read_topic(kafka_settings, kafka_settings.dlq_topic)
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["value_truncated_from"] == str(HUGE_BYTES)
    assert headers["key_truncated_from"] == "100000"
    assert len(record.value) + len(record.key) < DLQ_RECORD_MAX_BYTES
    assert record.value == b"x" * len(record.value) and headers["error"] == "too_large"
