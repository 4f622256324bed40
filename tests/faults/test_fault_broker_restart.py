"""The broker stops and starts again on the same port under a running `veille run`: the same worker
process reconnects and resumes by itself, and every post's alerts are stored.

noida-db keeps its log and the group's offsets in its data directory across the restart, as Apache Kafka
does. Tansu's ``memory://`` storage is left out on purpose: it comes back empty and numbers the new log
from offset 0 again, so the worker's fetch positions from before point into *different* records, and the
ones below them are skipped. No Kafka client can tell a reused offset from the old one without leader-epoch
validation, which kafka-python does not do; that is the broker losing data, not a restart.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from monitor.broker import EmbeddedBroker
from monitor.kafka_io import ensure_topics
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from monitor.traffic import generate_posts

pytestmark = pytest.mark.kafka

DOWN_S = 5.0


@pytest.mark.parametrize("kind", ["noida"])
def test_worker_resumes_by_itself_after_a_broker_restart(
    kind: str, children: Any, tmp_path: Path, fault: Any, pipeline: Pipeline,
) -> None:
    broker = EmbeddedBroker(kind, data_dir=tmp_path / "broker", log_path=tmp_path / "broker.log")
    broker.start()
    try:
        prefix = f"r{uuid.uuid4().hex[:10]}"
        settings = Settings(
            _env_file=None, bootstrap_servers=[broker.bootstrap], data_dir=tmp_path,
            input_topics=[f"{prefix}.posts.internal", f"{prefix}.posts.external"],
            dlq_topic=f"{prefix}.posts.dlq", alerts_topic=f"{prefix}.alerts", group_id=f"{prefix}-group",
            poll_timeout_ms=200, session_timeout_ms=6000, heartbeat_interval_ms=1000, group_window_seconds=0,
        )
        ensure_topics(settings, partitions=4)
        before, after = list(generate_posts(300, seed=31)), list(generate_posts(300, seed=32))
        worker = children(["run"], fault.worker_env(settings), tmp_path / "run.log")
        first = fault.produce(settings, before)
        fault.wait_committed(settings, first, 90, worker)

        broker.stop()
        time.sleep(DOWN_S)
        assert worker.alive(), f"the worker exited while the broker was down:\n{worker.tail()}"
        broker.start()
        second = fault.produce(settings, after)
        ends = fault.merge_ends(first, second)
        fault.wait_committed(settings, ends, 120, worker, f" after the {kind} broker restarted")
        assert worker.stop() == 0, worker.tail()
    finally:
        broker.stop()

    expected = {(alert.post_id, alert.rule_id): 1 for result in pipeline.process(before + after)
                for alert in result.alerts}
    assert expected and fault.stored_hits(settings.resolved_database_url) == expected
