"""A poll never outlasts max_poll_interval_ms, and one that does is not replayed without end (real brokers).

The consumer gets ``max_poll_interval_ms=6000`` (the lowest the 6 s test session allows). Before the
fixes, a poll of slow posts past it lost the group, its commit was refused and swallowed, and the same
poll came back for ever.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from alerts.store import SqlAlertStore
from monitor.kafka_io import make_consumer
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from policies.post import Post

pytestmark = pytest.mark.kafka

MAX_POLL_INTERVAL_MS = 6000


def _counter(metric: Any) -> float:
    return sum(s.value for family in metric.collect() for s in family.samples if s.name.endswith("_total"))


def _run(kafka_settings: Settings, kit: Any, pipeline: Any, store: SqlAlertStore, metrics: Metrics,
         posts: list[Post], **limits: Any) -> Any:
    settings = kafka_settings.model_copy(update={"max_poll_interval_ms": MAX_POLL_INTERVAL_MS, **limits})
    ends = kit.produce_posts(settings, posts)  # all there before the first poll: one big batch
    consumer = make_consumer(settings, client_id="slow-worker", max_poll_interval_ms=MAX_POLL_INTERVAL_MS)
    running = kit.start_worker(settings, pipeline, store, [], metrics, consumer=consumer)
    try:
        kit.wait_committed(settings, ends, timeout_s=120, running=running)
    finally:
        running.join()
    return running


def test_a_slow_poll_is_committed_in_chunks_before_max_poll_interval(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post],
) -> None:
    # 60 posts at 0.25 s each: 15 s in one poll, more than twice the poll interval.
    posts = post_mix[:60]
    pipeline = kit.RecordingPipeline(real_pipeline, delay_s=0.25)
    running = _run(kafka_settings, kit, pipeline, store, metrics, posts,
                   batch_max_seconds=2.0, batch_chunk_bytes=3000)
    assert sorted(pipeline.seen) == sorted(post.id for post in posts), "each post once: nothing replayed"
    assert _counter(metrics.batches_cut_short) >= 1
    assert running.worker.commits_refused == 0
    assert sorted(kit.stored_ids(store)) == sorted(kit.expected_alerts(real_pipeline, posts))


def test_a_chunk_past_max_poll_interval_is_committed_after_the_rejoin_not_replayed(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post],
) -> None:
    # One post takes 8 s alone: no chunking can keep its chunk under the 6 s interval.
    posts = post_mix[:30]
    slow = posts[10].id
    pipeline = kit.RecordingPipeline(real_pipeline, slow={slow: 8.0})
    running = _run(kafka_settings, kit, pipeline, store, metrics, posts,
                   batch_max_seconds=2.0, batch_chunk_bytes=1)
    assert Counter(pipeline.seen)[slow] == 1, "the slow post was processed once, committed after the rejoin"
    assert sorted(pipeline.seen) == sorted(post.id for post in posts), "each post once: nothing replayed"
    assert running.worker.commits_refused >= 1
    assert _counter(metrics.commits_refused) == running.worker.commits_refused
    assert sorted(kit.stored_ids(store)) == sorted(kit.expected_alerts(real_pipeline, posts))
