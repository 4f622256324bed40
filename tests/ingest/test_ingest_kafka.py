"""End to end on a real broker (Tansu and noida-db): a Slack export with a French NIR and a FINRA
promissory message goes through `veille ingest --produce`, a real worker and a SQLite store; the
alerts carry their thread ids, and ingesting the export again adds no alert."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from alerts.model import Alert, alert_id
from alerts.query import AlertQuery
from alerts.store import SqlAlertStore
from detectors.recognizers.fr import nir_key
from monitor.cli import app
from monitor.kafka_io import committed_offsets
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline, build_pipeline
from monitor.runner import Worker
from monitor.settings import Settings

pytestmark = pytest.mark.kafka

NIR_POST = "slack:C01GENERAL:1709543460.000400"  # Étienne's reply in Zoé's thread, in #general
PROMISSORY_POST = "slack:C02TRADING:1709647200.000100"  # Bob's message to a client, in #trading-desk


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return build_pipeline(Settings())


@pytest.fixture
def store(kafka_settings: Settings) -> Iterator[SqlAlertStore]:
    with closing(SqlAlertStore.open(kafka_settings.resolved_database_url)) as opened:
        yield opened


def _ingest(kafka_settings: Settings, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            name: str) -> dict[str, Any]:
    monkeypatch.setenv("VEILLE_BOOTSTRAP_SERVERS", ",".join(kafka_settings.bootstrap_servers))
    monkeypatch.setenv("VEILLE_INPUT_TOPICS", ",".join(kafka_settings.input_topics))
    manifest = tmp_path / f"{name}.manifest.json"
    # Trading-desk is a Slack Connect channel shared with a client: correspondence with the public.
    result = CliRunner().invoke(app, ["ingest", "slack", str(data / "slack"), "--produce", "--source",
                                      "external", "--directory", str(data / "people.csv"),
                                      "--manifest", str(manifest)])
    assert result.exit_code == 1, result.output  # the export's two malformed records
    return dict(json.loads(manifest.read_text()))


def _wait_for(predicate: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_slack_export_raises_its_alerts_with_thread_ids_once(
    kafka_settings: Settings, pipeline: Pipeline, store: SqlAlertStore, ingest_kit: Any,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert nir_key("2690549588157") == 80, "the fixture's NIR must carry a valid key"
    first = _ingest(kafka_settings, ingest_kit.DATA, tmp_path, monkeypatch, "first")
    assert first["produced"] == first["acknowledged"] == 8
    assert first["output"] == "kafka:" + ",".join(sorted(kafka_settings.input_topics))

    stop = threading.Event()
    worker = Worker(kafka_settings, pipeline, store, Metrics.create(CollectorRegistry()))
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        expected = {alert_id(NIR_POST, "fr-nir-in-post"),
                    alert_id(PROMISSORY_POST, "us-finra-2210-promissory")}
        _wait_for(lambda: all(store.get(each) is not None for each in expected), "the two alerts")
        nir: Alert | None = store.get(alert_id(NIR_POST, "fr-nir-in-post"))
        promissory: Alert | None = store.get(alert_id(PROMISSORY_POST, "us-finra-2210-promissory"))
        assert nir is not None and promissory is not None
        assert (nir.jurisdiction, nir.author_role) == ("FR", "employee")
        assert nir.origin["thread_id"] == nir.origin["reply_to"] == "slack:C01GENERAL:1709543400.000300"
        assert (promissory.jurisdiction, promissory.author_role) == ("US", "registered_rep")
        assert promissory.origin["thread_id"] == PROMISSORY_POST and "reply_to" not in promissory.origin
        assert all("2 69 05 49 588 157 80" not in evidence.snippet for evidence in nir.evidence)

        _wait_for(lambda: sum(committed_offsets(kafka_settings).values()) == 8, "the posts consumed")
        before = store.query(AlertQuery(limit=500)).data
        second = _ingest(kafka_settings, ingest_kit.DATA, tmp_path, monkeypatch, "second")
        assert second["acknowledged"] == 8 and second["content_sha256"] == first["content_sha256"]
        _wait_for(lambda: sum(committed_offsets(kafka_settings).values()) == 16, "the re-sent posts consumed")
        after = store.query(AlertQuery(limit=500)).data
        assert sorted(alert.id for alert in after) == sorted(alert.id for alert in before)
        assert all(alert.occurrences == 1 for alert in after), "a re-ingested post counted again"
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
