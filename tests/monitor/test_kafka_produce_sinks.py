"""Producing posts (code and JSONL files), the Kafka alert sink and the DLQ writer, on real brokers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from alerts.model import Alert, Evidence, Severity
from alerts.sinks import AlertSink, KafkaAlertSink, MemorySink, SinkError, alert_payload
from monitor.kafka_io import DeadLetterWriter, make_producer
from monitor.produce import ProduceError, produce_file, produce_file_report, produce_posts, topic_for_sources
from monitor.settings import Settings
from monitor.traffic import generate_posts
from policies.post import Post, Source

pytestmark = pytest.mark.kafka


def test_posts_are_routed_by_source_and_keyed_by_author(kafka_settings: Settings, kit: Any) -> None:
    posts = list(generate_posts(60, seed=3))
    assert produce_posts(kafka_settings, posts) == 60
    internal, external = kafka_settings.input_topics
    by_id = {post.id: post for post in posts}
    for topic in (internal, external):
        expected = [p for p in posts if (p.source is Source.INTERNAL) == (topic == internal)]
        records = kit.read_topic(kafka_settings, topic, len(expected))
        assert len(records) == len(expected)
        for record in records:
            post = Post.model_validate_json(record.value)
            assert post == by_id[post.id]
            assert record.key == post.author.id.encode()


def test_routing_needs_suffixed_topics_or_a_single_one() -> None:
    assert set(topic_for_sources(Settings(input_topics=["all.posts"])).values()) == {"all.posts"}
    with pytest.raises(ProduceError, match=r"no input topic ends with '\.external'"):
        topic_for_sources(Settings(input_topics=["a.internal", "b.other"]))


def test_produce_file_sends_valid_lines_and_reports_invalid_ones(
    kafka_settings: Settings, kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    posts = list(generate_posts(3, seed=5))
    path = tmp_path / "posts.jsonl"
    lines = [
        posts[0].model_dump_json().encode(),
        b'{"id": "broken", ',
        b"",
        posts[1].model_dump_json().encode(),
        json.dumps({"id": "nope", "source": "internal", "channel": "teams", "text": "secret words"}).encode(),
        b'{"id": "\xff"}',
        posts[2].model_dump_json().encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = produce_file_report(kafka_settings, path)
    assert report.sent == 3
    assert [(bad.line, bad.reason.split(":")[0]) for bad in report.invalid] == [
        (2, "not valid JSON"), (5, "author"), (6, "byte 8 is not valid UTF-8"),
    ]
    assert all("secret words" not in bad.reason for bad in report.invalid)

    with caplog.at_level(logging.ERROR, logger="monitor.produce"):
        assert produce_file(kafka_settings, path).sent == 3
    assert f"{path}:2: not sent: not valid JSON" in caplog.text
    assert "3 invalid lines" in caplog.text
    routing = topic_for_sources(kafka_settings)
    for topic in kafka_settings.input_topics:
        expected = sorted(p.id for p in posts if routing[p.source] == topic) * 2
        records = kit.read_topic(kafka_settings, topic, len(expected))
        assert sorted(Post.model_validate_json(r.value).id for r in records) == sorted(expected)


def _alert(index: int) -> Alert:
    return Alert(
        id=f"alert-{index}", rule_id="global-pii-email", rule_title="E-mail address shared",
        severity=Severity.HIGH, created_at=datetime(2026, 11, 3, tzinfo=UTC),
        jurisdiction="FR", source="internal", channel="teams", post_id=f"p-{index}", author_id="u-1",
        author_role="employee", post_created_at=datetime(2026, 11, 2, tzinfo=UTC), policy_version="abc",
        evidence=[Evidence(detector="pii", type="EMAIL_ADDRESS", start=10, end=30, score=1.0,
                           snippet="write to [EMAIL_ADDRESS] now", span="alice@example.com", personal=True)],
        origin={"topic": "t", "partition": 0, "offset": index},
    )


def test_kafka_sink_publishes_alerts_without_raw_spans(kafka_settings: Settings, kit: Any) -> None:
    producer = make_producer(kafka_settings, client_id="veille-alerts")
    sink = KafkaAlertSink(producer, kafka_settings.alerts_topic)
    assert isinstance(sink, AlertSink) and isinstance(MemorySink(), AlertSink)
    try:
        sink.publish([_alert(1), _alert(2)])
        sink.publish([])
    finally:
        sink.close()
    records = kit.read_topic(kafka_settings, kafka_settings.alerts_topic, 2)
    assert sorted(record.key for record in records) == [b"alert-1", b"alert-2"]
    for record in records:
        assert b"alice@example.com" not in record.value
        payload = json.loads(record.value)
        assert payload["evidence"][0]["snippet"] == "write to [EMAIL_ADDRESS] now"
        assert "span" not in payload["evidence"][0]
        assert payload == alert_payload(_alert(int(payload["id"].split("-")[1])))


def test_kafka_sink_raises_sink_error_when_the_broker_refuses(kafka_settings: Settings) -> None:
    big = Settings(bootstrap_servers=kafka_settings.bootstrap_servers,
                   alerts_topic=kafka_settings.alerts_topic)
    # A producer whose record limit is below one alert: the send fails locally, the sink must say so.
    producer = make_producer(big, max_request_size=200)
    sink = KafkaAlertSink(producer, big.alerts_topic, timeout_s=5)
    try:
        with pytest.raises(SinkError, match="sink kafka: MessageSizeTooLargeError"):
            sink.publish([_alert(3)])
    finally:
        producer.close(1)


def test_dead_letter_writer_refuses_unknown_reasons(kafka_settings: Settings) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    try:
        writer = DeadLetterWriter(kafka_settings, producer)
        with pytest.raises(ValueError, match="unknown DLQ reason 'oops'"):
            writer.send(value=b"x", key=None, reason="oops", detail="", source_topic="t", source_partition=0,
                        source_offset=0)
        writer.flush()
    finally:
        producer.close(1)
