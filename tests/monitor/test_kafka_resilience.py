"""A post that crashes the pipeline, a pipeline that is broken, and a policy reload mid-stream."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from alerts.store import SqlAlertStore
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.reload import PolicyReloader
from monitor.settings import Settings
from policies import load_policy_set
from policies.post import Post

pytestmark = pytest.mark.kafka


class PoisonAwarePipeline:
    """The real pipeline, except that posts whose id is in ``poison`` make it raise (like a detector bug)."""

    def __init__(self, inner: Pipeline, poison: set[str], *, broken: threading.Event | None = None) -> None:
        self.inner = inner
        self.poison = poison
        self.broken = broken or threading.Event()
        self.calls = 0

    @property
    def policy_version(self) -> str:
        return self.inner.policy_version

    def metric_jurisdiction(self, jurisdiction: str) -> str:
        return self.inner.metric_jurisdiction(jurisdiction)

    def process(self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None) -> Any:
        self.calls += 1
        if self.broken.is_set():
            raise RuntimeError("model failed to load")
        if any(post.id in self.poison for post in posts):
            raise ValueError("detector crashed")
        return self.inner.process(posts, origins)


def test_a_post_that_crashes_the_pipeline_is_dead_lettered_and_the_rest_stored(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post],
) -> None:
    posts = post_mix[:120]
    poison = {posts[7].id, posts[80].id}
    healthy = [post for post in posts if post.id not in poison]
    expected = kit.expected_alerts(real_pipeline, healthy)
    ends = kit.produce_posts(kafka_settings, posts)
    running = kit.start_worker(kafka_settings, PoisonAwarePipeline(real_pipeline, poison), store, [], metrics)
    try:
        kit.wait_committed(kafka_settings, ends, running=running)
    finally:
        running.join()
    assert sorted(kit.stored_ids(store)) == sorted(expected)
    dead = kit.read_topic(kafka_settings, kafka_settings.dlq_topic, len(poison))
    assert {record.key.decode() for record in dead} == {post.author.id for post in posts if post.id in poison}
    for record in dead:
        headers = {name: raw.decode() for name, raw in record.headers}
        assert headers["error"] == "processing_failed"
        assert "detector crashed" not in headers["error_detail"], "exception messages may carry post text"


def test_a_broken_pipeline_stalls_instead_of_dead_lettering_everything(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post],
) -> None:
    posts = post_mix[:60]
    expected = kit.expected_alerts(real_pipeline, posts)
    ends = kit.produce_posts(kafka_settings, posts)
    broken = threading.Event()
    broken.set()
    pipeline = PoisonAwarePipeline(real_pipeline, set(), broken=broken)
    running = kit.start_worker(kafka_settings, pipeline, store, [], metrics, retry_backoff_s=(0.05, 0.2))
    try:
        kit.wait_until(lambda: running.worker.failed_attempts >= 2, 60, "two failed attempts")
        assert kit.committed(kafka_settings) == {}
        broken.clear()
        kit.wait_committed(kafka_settings, ends, running=running)
    finally:
        running.join()
    assert sorted(kit.stored_ids(store)) == sorted(expected)
    assert kit.read_topic(kafka_settings, kafka_settings.dlq_topic, 1, timeout_s=3) == []


def test_policies_reload_between_batches_and_a_bad_pack_is_refused(
    kafka_settings: Settings, kit: Any, store: SqlAlertStore, metrics: Metrics, tmp_path: Path,
) -> None:
    from monitor.pipeline import build_pipeline
    from monitor.traffic import generate_posts

    org_dir = tmp_path / "org-policies"
    org_dir.mkdir()
    settings = kafka_settings.model_copy(update={"policies_dir": org_dir})
    pipeline = build_pipeline(settings, metrics=metrics)
    first_version = pipeline.policy_version
    reloader = PolicyReloader(org_dir, metrics, check_interval_s=0.1)
    running = kit.start_worker(settings, pipeline, store, [], metrics, reloader=reloader)
    try:
        ends = kit.produce_posts(settings, list(generate_posts(20, seed=3)))
        kit.wait_committed(settings, ends, running=running)

        (org_dir / "broken.yaml").write_text("pack: {id: acme, overlay: global}\nrules:\n  - id: [oops\n")
        kit.wait_until(lambda: metrics.policy_reload_errors._value.get() >= 1, 20, "the reload to be refused")
        assert pipeline.policy_version == first_version, "the previous packs stay active"

        (org_dir / "broken.yaml").unlink()
        (org_dir / "acme.yaml").write_text(
            "pack: {id: acme, overlay: global}\nlists:\n  deal_code_names: {phrases: [project aurora]}\n"
        )
        kit.wait_until(lambda: pipeline.policy_version != first_version, 20, "the new packs to load")
        ends = kit.produce_posts(settings, list(generate_posts(20, seed=4)))
        kit.wait_committed(settings, ends, running=running)
    finally:
        running.join()
    versions = [s.labels["version"] for fam in metrics.policy_info.collect() for s in fam.samples]
    assert versions == [pipeline.policy_version]
    assert pipeline.policy_version == load_policy_set(org_dir).version


def test_silenced_hits_are_stored_and_marked_but_never_reach_the_sinks(
    kafka_settings: Settings, kit: Any, real_pipeline: Pipeline, store: SqlAlertStore, metrics: Metrics,
    post_mix: list[Post], memory_sink: Any,
) -> None:
    from datetime import UTC, datetime, timedelta

    from alerts.audit import Actor
    from alerts.silences import Matchers, SilenceRequest

    posts = post_mix[:200]
    expected = kit.expected_alerts(real_pipeline, posts)
    rules = sorted({alert.rule_id for alert in expected.values()})
    assert len(rules) >= 2, "the sample must raise alerts of at least two rules"
    silenced_rule = rules[0]
    store.create_silence(
        SilenceRequest(matchers=Matchers(rule_id=silenced_rule), reason="known noisy rule this week",
                       expires_at=datetime.now(UTC) + timedelta(days=1)),
        Actor(name="test-officer", role="officer"),
    )
    ends = kit.produce_posts(kafka_settings, posts)
    running = kit.start_worker(kafka_settings, real_pipeline, store, [memory_sink], metrics)
    try:
        kit.wait_committed(kafka_settings, ends, running=running)
    finally:
        running.join()
    assert sorted(kit.stored_ids(store)) == sorted(expected), "silenced hits are still stored"
    for alert_id, alert in expected.items():
        stored = store.get(alert_id)
        assert stored is not None
        assert stored.silenced == (alert.rule_id == silenced_rule)
    delivered = {alert.id for alert in memory_sink.published}
    assert delivered == {i for i, a in expected.items() if a.rule_id != silenced_rule}
