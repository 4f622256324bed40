"""Liveness, readiness and the Prometheus scrape, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerts.model import Alert
from alerts.store import SqlAlertStore


def test_healthz_is_always_ok(api: httpx.Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_ok_when_store_and_checks_pass(
    sqlite_store: SqlAlertStore, serve: Callable[..., str], http: Callable[[str], httpx.Client]
) -> None:
    calls: list[str] = []
    client = http(serve(sqlite_store, readiness_checks={"broker": lambda: calls.append("broker")}))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"store": "ok", "broker": "ok"}}
    assert calls == ["broker"]  # run per probe, not cached at start-up


def test_readyz_503_names_the_failing_component_and_its_state_only(
    sqlite_store: SqlAlertStore, serve: Callable[..., str], http: Callable[[str], httpx.Client]
) -> None:
    def broker() -> None:
        raise ConnectionError("no broker at sasl://veille:s3cr3t-pw@10.0.0.7:9093 (password=s3cr3t-pw)")

    def policies() -> None:
        raise ValueError("pack /etc/veille/policies/fr.yaml refused")

    client = http(serve(sqlite_store, readiness_checks={"broker": broker, "policies": policies}))
    response = client.get("/readyz")
    assert response.status_code == 503
    # An open route: component names and bounded states, never an address, a path or an error text.
    assert response.json() == {
        "status": "unavailable", "checks": {"store": "ok", "broker": "unreachable", "policies": "failed"}
    }
    for detail in ("s3cr3t", "10.0.0.7", "9093", "sasl", "/etc/veille", "Error"):
        assert detail not in response.text, detail


def test_readyz_503_when_the_store_is_gone(
    tmp_path: Path, seed_alerts: list[Alert], serve: Callable[..., str], http: Callable[[str], httpx.Client]
) -> None:
    database = tmp_path / "gone.db"
    store = SqlAlertStore.open(f"sqlite:///{database}")
    store.add_many(seed_alerts)
    client = http(serve(store))
    assert client.get("/readyz").status_code == 200

    # Close the store, then make its file unopenable (a directory in its place): every new
    # connection fails as it would on a lost volume.
    store.close()
    database.unlink()
    database.mkdir()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"store": "unreachable"}

    # The routes answer 503 JSON too, and the scrape still works.
    listing = client.get("/alerts")
    assert listing.status_code == 503
    assert listing.json() == {"detail": "the alert store is unavailable; retry later"}
    assert listing.headers["retry-after"] == "5"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    samples = scrape(metrics.text)
    assert samples[("veille_api_store_up", ())] == 0
    assert not any(name == "veille_open_alerts" for name, _ in samples)
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_serves_open_alerts_per_severity_and_the_standard_metrics(
    api: httpx.Client, seed_alerts: list[Alert], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # read at each scrape
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = scrape(response.text)
    for severity in ("info", "low", "medium", "high", "critical"):
        expected = sum(1 for a in seed_alerts if a.status == "open" and a.severity == severity)
        assert samples[("veille_open_alerts", (("severity", severity),))] == expected
    assert samples[("veille_api_store_up", ())] == 1
    # The worker metrics are declared in every process, so a scrape shows them before any traffic.
    for name in (
        "veille_posts_consumed", "veille_records_dead_lettered", "veille_alerts_raised",
        "veille_batch_processing_seconds", "veille_detector_seconds", "veille_offsets_commits",
    ):
        assert f"# TYPE {name}" in response.text, name
    assert samples[("veille_offsets_commits_total", ())] == 0


def test_metrics_in_multiprocess_mode_still_carry_the_open_alert_gauge(
    api: httpx.Client, seed_alerts: list[Alert], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers write their samples under PROMETHEUS_MULTIPROC_DIR; the store gauge is the API's own.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    response = api.get("/metrics")
    assert response.status_code == 200
    samples = scrape(response.text)
    critical_open = sum(1 for a in seed_alerts if a.status == "open" and a.severity == "critical")
    assert critical_open > 0
    assert samples[("veille_open_alerts", (("severity", "critical"),))] == critical_open
    assert "python_gc_objects_collected_total" not in response.text  # the aggregate, not this process


def test_open_alert_gauge_follows_the_store(
    sqlite_store: SqlAlertStore, seed_alerts: list[Alert], serve: Callable[..., str],
    http: Callable[[str], httpx.Client],
) -> None:
    client = http(serve(sqlite_store))
    assert scrape(client.get("/metrics").text)[("veille_open_alerts", (("severity", "high"),))] == 0
    sqlite_store.add_many(seed_alerts[:4])  # 0..3: info open, low open, medium ack, high closed
    samples = scrape(client.get("/metrics").text)
    assert samples[("veille_open_alerts", (("severity", "info"),))] == 1
    assert samples[("veille_open_alerts", (("severity", "low"),))] == 1
    assert samples[("veille_open_alerts", (("severity", "medium"),))] == 0
    assert samples[("veille_open_alerts", (("severity", "high"),))] == 0
