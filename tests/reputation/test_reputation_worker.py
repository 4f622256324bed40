"""The run loop with the reputation aggregator: real broker, real pipeline, real SQLite store.

A worker is stopped in the middle of the burst window and a fresh one (new aggregator, state read
back from the store) finishes the stream: exactly one negative spike is stored, the one an
uninterrupted aggregator finds on the same posts.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from alerts.query import AlertQuery
from alerts.reputation_store import ReputationStore
from alerts.store import SqlAlertStore
from monitor.kafka_io import send_records
from monitor.metrics import Metrics
from monitor.pipeline import build_pipeline
from monitor.reputation import ReputationAggregator, build_aggregator
from monitor.reputation_state import ReputationConfig
from monitor.runner import Worker
from monitor.settings import Settings
from policies.post import Author, Post, Source

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
NEGATIVE = (
    "ExampleCo delivery was late again, really disappointing and bad",
    "ExampleCo app keeps crashing, awful experience",
)
CALM = (
    "ExampleCo support was helpful today, thanks",
    "Ordered from ExampleCo, parcel arrived fine, good value",
    "Just saw an ExampleCo ad on the bus",
)
CONFIG = ReputationConfig(
    window_seconds=300,
    k=3.0,
    min_volume=20,
    ewma_alpha=0.05,
    min_baseline_windows=12,
    allowed_lateness_seconds=900,
)


def _stream() -> list[Post]:
    rng = random.Random(42)
    posts = []
    for w in range(17):
        burst = w == 13
        for i in range(24):
            negative = rng.random() < (0.85 if burst else 0.15)
            text = rng.choice(NEGATIVE if negative else CALM)
            posts.append(
                Post(
                    id=f"w{w}-{i}",
                    source=Source.EXTERNAL,
                    channel="x",
                    author=Author(id=f"a{rng.randint(0, 99)}"),
                    text=text,
                    lang="en",
                    created_at=T0 + timedelta(seconds=w * 300 + rng.uniform(0, 299)),
                )
            )
    posts.sort(key=lambda p: p.created_at)
    return posts


def _produce(settings: Settings, posts: list[Post]) -> dict[TopicPartition, int]:
    topic = settings.input_topics[1]
    records = [(topic, post.author.id.encode(), post.model_dump_json().encode()) for post in posts]
    return send_records(settings, records)


def _committed(settings: Settings, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=settings.group_id, enable_auto_commit=False
    )
    try:
        return {tp: consumer.committed(tp) for tp in tps}
    finally:
        consumer.close()


def _run_until_committed(
    settings: Settings,
    ends: dict[TopicPartition, int],
    store: SqlAlertStore,
    reputation: ReputationAggregator,
    pipeline: Any = None,
) -> None:
    pipeline = pipeline or build_pipeline(settings)
    worker = Worker(settings, pipeline, store, Metrics.create(CollectorRegistry()), reputation=reputation)
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    try:
        while _committed(settings, list(ends)) != ends:
            assert not errors, errors
            assert time.monotonic() < deadline, "offsets were not committed in time"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors


def test_worker_restart_mid_window_raises_the_spike_once(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={"reputation": CONFIG})
    posts = _stream()
    pipeline = build_pipeline(settings)
    # The pipeline's plan skips sentiment on these posts: the aggregator scores them itself.
    straight = build_aggregator(settings, pipeline, None)
    expected = straight.process(pipeline.process(posts))
    assert [a.rule_id for a in expected] == ["reputation-negative-spike"]

    cut = next(i for i, p in enumerate(posts) if p.created_at >= T0 + timedelta(seconds=13 * 300 + 150))
    store = SqlAlertStore.open(settings.resolved_database_url)
    try:
        for part in (posts[:cut], posts[cut:]):
            ends = _produce(settings, part)
            rep_store = ReputationStore.open(settings.resolved_database_url)
            try:
                # A fresh aggregator each time: what a restarted or newly assigned worker has.
                aggregator = build_aggregator(settings, build_pipeline(settings), rep_store)
                _run_until_committed(settings, ends, store, aggregator)
            finally:
                rep_store.close()
        stored = store.query(
            AlertQuery(
                rule_id=["reputation-negative-spike", "reputation-volume-spike", "reputation-crisis"],
                limit=50,
            )
        ).data
        assert [a.id for a in stored] == [expected[0].id]
        assert stored[0].origin["sample_post_ids"]
        rows = ReputationStore.open(settings.resolved_database_url)
        try:
            assert sum(r.volume for r in rows.windows("ExampleCo", 0, 2**40)) == len(posts)
        finally:
            rows.close()
    finally:
        store.close()


class _PoisonPipeline:
    """The real pipeline, except that a batch holding ``poison`` raises (a detector bug on one post)."""

    def __init__(self, settings: Settings, poison: str) -> None:
        self.inner = build_pipeline(settings)
        self.poison = poison

    @property
    def policy_version(self) -> str:
        return self.inner.policy_version

    def metric_jurisdiction(self, jurisdiction: str) -> str:
        return self.inner.metric_jurisdiction(jurisdiction)

    def process(self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None) -> Any:
        if any(post.id == self.poison for post in posts):
            raise ValueError("detector crashed")
        return self.inner.process(posts, origins)


def test_a_dead_lettered_post_keeps_the_rest_counted_once(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={"reputation": CONFIG})
    posts = _stream()[:120]
    poison = posts[17].id
    pipeline = _PoisonPipeline(settings, poison)
    store = SqlAlertStore.open(settings.resolved_database_url)
    rep_store = ReputationStore(store.engine)
    try:
        ends = _produce(settings, posts)
        aggregator = build_aggregator(settings, pipeline.inner, rep_store)
        _run_until_committed(settings, ends, store, aggregator, pipeline)
        assert sum(r.volume for r in rep_store.windows("ExampleCo", 0, 2**40)) == len(posts) - 1
        # The surviving posts kept their offsets: a replay of this batch would be skipped, not recounted.
        assert {f"{tp.topic}:{tp.partition}": end - 1 for tp, end in ends.items()} == aggregator.applied
    finally:
        store.close()
