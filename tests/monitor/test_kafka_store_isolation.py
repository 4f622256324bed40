"""One post never stalls a batch in the store (real broker, real pipeline, SQLite and PostgreSQL).

Posts whose values PostgreSQL refuses as such (NUL characters, the longest ids) are stored all the
same; a post the database refuses (a constraint added on purpose) is dead-lettered as ``store_failed``
while the others are stored and committed, and the worker keeps going.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest

from alerts.sql.values import REPLACEMENT
from alerts.store import SqlAlertStore
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from policies.post import Post

pytestmark = pytest.mark.kafka


def _variant(post: Post, real_pipeline: Pipeline, **changes: Any) -> Post:
    data = post.model_dump(mode="json")
    for key, value in changes.items():
        if key == "author_id":
            data["author"]["id"] = value
        elif key == "nul_after_evidence":
            # Right after the first span a rule matched on: inside the evidence snippet's context.
            (result,) = real_pipeline.process([post])
            end = result.alerts[0].evidence[0].end
            data["text"] = post.text[:end] + " \x00" + post.text[end:]
        else:
            data[key] = value
    return Post.model_validate(data)


@pytest.fixture
def any_store(store_url: str) -> Iterator[SqlAlertStore]:
    with closing(SqlAlertStore.open(store_url)) as opened:
        yield opened


def test_hostile_values_are_stored_and_a_refused_post_is_dead_lettered(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, any_store: SqlAlertStore, store_url: str,
    metrics: Metrics, post_mix: list[Post], refuse_post_ids: Callable[[str, str], None],
) -> None:
    refuse_post_ids(store_url, "poison")
    alerting = [post for post in post_mix if kit.expected_alerts(real_pipeline, [post])][:8]
    hostile = [
        _variant(alerting[0], real_pipeline, id="L" * 256),
        _variant(alerting[1], real_pipeline, id="nul-text", nul_after_evidence=True),
        _variant(alerting[2], real_pipeline, id="nul-author", author_id="u-\x00-1"),
        _variant(alerting[3], real_pipeline, id="nul-thread", metadata={"thread_id": "t\x00-1"}),
    ]
    poisoned = [_variant(alerting[4], real_pipeline, id="poison-1"),
                _variant(alerting[5], real_pipeline, id="poison-2")]
    quiet = post_mix[:120]
    posts = quiet[:60] + hostile + poisoned + quiet[60:]
    good = [post for post in posts if not post.id.startswith("poison")]
    expected = kit.expected_alerts(real_pipeline, good)
    ends = kit.produce_posts(kafka_settings, posts)

    running = kit.start_worker(kafka_settings, real_pipeline, any_store, [], metrics)
    try:
        kit.wait_committed(kafka_settings, ends, running=running)
        assert sorted(kit.stored_ids(any_store)) == sorted(expected)

        dead = kit.read_topic(kafka_settings, kafka_settings.dlq_topic, len(poisoned))
        assert sorted(record.key for record in dead) == sorted(post.author.id.encode() for post in poisoned)
        for record in dead:
            headers = {name: raw.decode() for name, raw in record.headers}
            assert headers["error"] == "store_failed"
            code = "SQLSTATE 23514" if store_url.startswith("postgresql") else "SQLITE_CONSTRAINT_TRIGGER"
            assert code in headers["error_detail"]
            assert "poison" not in headers["error_detail"], "the detail names the refusal, not the values"
        assert sum(
            sample.value for family in metrics.records_dead_lettered.collect() for sample in family.samples
            if sample.name.endswith("_total") and sample.labels["reason"] == "store_failed"
        ) == len(poisoned)

        stored = {alert.post_id: alert for alert in (any_store.get(i) for i in expected) if alert}
        assert "L" * 256 in stored
        assert any(REPLACEMENT in item.snippet for item in stored["nul-text"].evidence)
        assert stored["nul-author"].author_id == "u-" + REPLACEMENT + "-1"
        assert stored["nul-thread"].origin["thread_id"] == "t" + REPLACEMENT + "-1"

        # The worker keeps going.
        later = post_mix[120:200]
        more = kit.merge_ends(ends, kit.produce_posts(kafka_settings, later))
        kit.wait_committed(kafka_settings, more, running=running)
    finally:
        running.join()
    everything = {**expected, **kit.expected_alerts(real_pipeline, later)}
    assert sorted(kit.stored_ids(any_store)) == sorted(everything)
    assert running.worker.failed_attempts == 0, "refused values never stall the batch"
