"""`veille policies backtest --topic`: records between two offsets or two times, on real brokers
(Tansu and noida-db), read without a consumer group so that no worker's offsets move."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from kafka import TopicPartition
from typer.testing import CliRunner

from monitor.backtest import SourceCounts, read_topics
from monitor.cli import app
from monitor.kafka_io import committed_offsets, make_producer
from monitor.traffic import generate_posts

# Recent timestamps: a broker's time-based retention (noida-db's runs while tests do) deletes records
# stamped older than its retention period, which a fixed date would fall behind.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
LATER = T0 + timedelta(hours=1)
HALF = T0 + timedelta(minutes=30)


@pytest.fixture
def topic(kafka_settings):
    """20 posts stamped T0 then 20 stamped T0 + 1 h, keyed by author, and one malformed record."""
    settings = kafka_settings
    name = settings.input_topics[1]
    posts = list(generate_posts(40, 5))
    producer = make_producer(settings)
    placed: dict[TopicPartition, list[tuple[int, str, datetime]]] = {}
    try:
        futures = []
        for index, post in enumerate(posts):
            at = T0 if index < 20 else LATER
            futures.append(
                (
                    producer.send(
                        name,
                        key=post.author.id.encode(),
                        value=post.model_dump_json().encode(),
                        timestamp_ms=int((at + timedelta(seconds=index)).timestamp() * 1000),
                    ),
                    post.id,
                    at,
                )
            )
        futures.append((producer.send(name, key=b"x", value=b"{not json", partition=0,
                                      timestamp_ms=int(LATER.timestamp() * 1000) + 60_000), None, LATER))
        producer.flush(30)
        for future, post_id, at in futures:
            meta = future.get(timeout=30)
            tp = TopicPartition(meta.topic, meta.partition)
            placed.setdefault(tp, []).append((meta.offset, post_id, at))
    finally:
        producer.close(timeout=5)
    return settings, name, posts, placed


def _ids(settings, name, **selection) -> tuple[Counter[str], SourceCounts]:
    counts = SourceCounts()
    posts = read_topics(settings, [name], counts, poll_timeout_ms=200, **selection)
    return Counter(post.id for post in posts), counts


def test_whole_topic_times_and_offsets(topic):
    settings, name, posts, placed = topic
    everything, counts = _ids(settings, name)
    assert everything == Counter(post.id for post in posts) and counts.skipped == 1
    later, _ = _ids(settings, name, from_time=HALF)
    assert later == Counter(post.id for post in posts[20:])
    earlier, counts = _ids(settings, name, to_time=HALF)
    assert earlier == Counter(post.id for post in posts[:20]) and counts.skipped == 0
    # Offsets 1 (inclusive) to 3 (exclusive) of every partition: what the producer was told it wrote.
    expected = Counter(
        post_id for records in placed.values() for offset, post_id, _ in records if 1 <= offset < 3
    )
    expected.pop(None, None)
    window, _ = _ids(settings, name, from_offset=1, to_offset=3)
    assert window == expected and sum(expected.values()) > 0
    # Per-partition offsets read the partitions named and no other.
    first = min(placed)
    only, counts = _ids(settings, name, from_offset={first.partition: 0}, to_offset={first.partition: 1})
    assert sum(only.values()) + counts.skipped == 1
    # Nothing was committed: a backtest never moves a consumer group.
    assert committed_offsets(settings) == {}


def test_cli_over_a_topic_window(topic):
    settings, name, _, _ = topic
    env = {
        "VEILLE_BOOTSTRAP_SERVERS": ",".join(settings.bootstrap_servers),
        "VEILLE_DATA_DIR": str(settings.data_dir),
    }
    result = CliRunner().invoke(
        app,
        ["policies", "backtest", "--topic", name, "--from-time", HALF.isoformat(), "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["posts"] == 20 and report["skipped_records"] == 1
    assert report["active_version"] == report["draft_version"]
    assert all(rule["gained"] == rule["lost"] == 0 for rule in report["rules"])
