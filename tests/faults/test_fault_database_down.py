"""PostgreSQL stopped for 30 s under a running `veille run` and `veille api`.

While the store is down nothing may be committed (offsets move only after alerts are stored), the API's
``/readyz`` must say not ready, and the worker must wait instead of dying; once the database is back,
every post's alerts are stored. The database is a private cluster started by the test (never the shared
server on 5432), so stopping it disturbs no one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.broker import free_port
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from monitor.traffic import generate_posts

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

DOWN_S = 30.0


def _ready(url: str) -> int:
    try:
        return httpx.get(f"{url}/readyz", timeout=10).status_code
    except httpx.HTTPError:
        return 0


# The store's outage, not the broker's behaviour, is under test: one broker kind keeps CI time down.
@pytest.mark.parametrize("kafka_broker", ["noida"], indirect=True)
def test_database_down_for_30s_commits_nothing_reports_unready_and_loses_nothing(
    kafka_settings: Settings, private_postgres: Any, children: Any, tmp_path: Path, fault: Any,
    pipeline: Pipeline,
) -> None:
    api_port = free_port()
    settings = kafka_settings.model_copy(update={
        "database_url": private_postgres.url, "poll_max_records": 100, "api_port": api_port,
    })
    env = fault.worker_env(settings)
    before, during = list(generate_posts(1000, seed=21)), list(generate_posts(1000, seed=22))
    worker = children(["run"], env, tmp_path / "run.log")
    api = children(["api"], env, tmp_path / "api.log")
    api_url = f"http://127.0.0.1:{api_port}"
    fault.wait_until(lambda: _ready(api_url) == 200 or not api.alive(), 60, "the API to be ready")
    assert api.alive(), api.tail()

    first = fault.produce(settings, before)
    fault.wait_committed(settings, first, 120, worker)

    private_postgres.stop()
    down_at = time.monotonic()
    # Produced only once the store is down: none of these records may be committed before it returns.
    ends = fault.merge_ends(first, fault.produce(settings, during))
    fault.wait_until(lambda: _ready(api_url) == 503, 15, "/readyz to report the store down")
    while time.monotonic() - down_at < DOWN_S:
        committed = fault.committed_offsets(settings)
        assert all(committed.get(tp, 0) <= end for tp, end in first.items()) and all(
            tp in first or committed.get(tp, 0) == 0 for tp in committed
        ), f"offsets committed while the store was down: {committed} (stored up to {first})"
        assert worker.alive(), f"the worker died while the store was down:\n{worker.tail()}"
        status = _ready(api_url)
        assert status == 503, f"/readyz answered {status} while the store was down"
        time.sleep(1.0)
    assert fault.committed_offsets(settings) == {tp: end for tp, end in first.items()}

    private_postgres.start()
    fault.wait_committed(settings, ends, 120, worker, " after the store came back")
    fault.wait_until(lambda: _ready(api_url) == 200, 30, "/readyz to report ready again")
    assert worker.stop() == 0, worker.tail()
    assert api.stop() == 0, api.tail()

    expected = {(alert.post_id, alert.rule_id): 1 for result in pipeline.process(before + during)
                for alert in result.alerts}
    stored = fault.stored_hits(private_postgres.url)
    assert expected and stored == expected, (
        f"{len(set(expected) - set(stored))} alerts lost, "
        f"{sum(1 for count in stored.values() if count > 1)} duplicated"
    )
