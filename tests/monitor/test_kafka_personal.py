"""Personal posts in the worker: counted, then gone. Real pipeline, real SQLite store, real broker.

In FR a post marked personal raises nothing and leaves nothing but the count, while the same post
unmarked alerts and the same marked post in US (no personal carve-out there) is analysed; the
offsets of the skipped posts still commit.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from alerts.sql.schema import metadata as tables
from alerts.store import SqlAlertStore
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from policies.post import Author, Post, Source

LEAK = "quick fix: export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE and rerun the job"


def _post(post_id: str, text: str, jurisdiction: str, **metadata: object) -> Post:
    return Post(id=post_id, source=Source.INTERNAL, channel="teams", text=text, jurisdiction=jurisdiction,
                author=Author(id=f"author-of-{post_id}", is_employee=True, role="employee"),
                metadata=dict(metadata))


POSTS = [
    _post("fr-marked", "[PERSO] " + LEAK, "FR"),
    _post("fr-subject", LEAK, "FR", subject="Perso : le script"),
    _post("fr-plain", LEAK, "FR"),
    _post("us-marked", "[PERSO] " + LEAK, "US"),
]


def _skipped(metrics: Metrics, jurisdiction: str) -> float:
    value = metrics.posts_personal_skipped.labels(jurisdiction)._value.get()
    return float(value)


def _rows_mentioning(store: SqlAlertStore, needle: str) -> int:
    """Rows of any table whose values, read as text, contain ``needle`` (a post id)."""
    with store.engine.connect() as conn:
        return sum(needle in repr(tuple(row)) for table in tables.sorted_tables
                   for row in conn.execute(select(table)))


def test_pipeline_drops_personal_posts_before_detection(real_pipeline: Pipeline) -> None:
    metrics = Metrics.create(CollectorRegistry())
    real_pipeline.metrics = metrics
    try:
        results = real_pipeline.process(POSTS, [{"offset": i} for i in range(len(POSTS))])
    finally:
        real_pipeline.metrics = None
    by_id = {r.post.id: r for r in results}
    assert sorted(by_id) == ["fr-plain", "us-marked"]
    assert [a.rule_id for a in by_id["fr-plain"].alerts] == ["global-secret-key-in-post"]
    assert [a.rule_id for a in by_id["us-marked"].alerts] == ["global-secret-key-in-post"]
    # Origins stay aligned with the posts that remain.
    assert by_id["us-marked"].alerts[0].origin["offset"] == 3
    assert _skipped(metrics, "FR") == 2 and _skipped(metrics, "US") == 0


@pytest.mark.kafka
def test_worker_stores_nothing_of_personal_posts_and_commits_them(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
) -> None:
    ends = kit.produce_posts(kafka_settings, POSTS)
    real_pipeline.metrics = metrics  # as `veille run` builds it: one Metrics for worker and pipeline
    running = kit.start_worker(kafka_settings, real_pipeline, store, [], metrics)
    try:
        kit.wait_committed(kafka_settings, ends, running=running)
    finally:
        running.join()
        real_pipeline.metrics = None
    alerts = {a.post_id: a for a in (store.get(i) for i in kit.stored_ids(store)) if a is not None}
    assert sorted(alerts) == ["fr-plain", "us-marked"]
    for skipped in ("fr-marked", "fr-subject"):
        assert _rows_mentioning(store, skipped) == 0, f"{skipped} left a trace in the store"
    assert _skipped(metrics, "FR") == 2
    assert _skipped(metrics, "EU") == 0, "series exist from start-up for every skipping jurisdiction"
    assert sum(ends.values()) == len(POSTS)
