"""docs/metrics.md lists exactly the metrics the code defines, with their types and labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.store import SqlAlertStore
from api.app import create_app
from monitor.metrics import Metrics
from monitor.settings import Settings


def _exposed_name(metric: Any) -> str:
    return f"{metric._name}_total" if metric._type == "counter" else metric._name


def test_every_worker_metric_is_in_the_catalogue_with_its_type_and_labels(ops: Any) -> None:
    catalogue = ops.read_catalogue()
    metrics = Metrics.create(CollectorRegistry())
    defined = {}
    for field in dataclasses.fields(metrics):
        metric = getattr(metrics, field.name)
        defined[_exposed_name(metric)] = (metric._type, frozenset(metric._labelnames))
    for name, (kind, labels) in defined.items():
        assert name in catalogue, f"{name} is exported but missing from docs/metrics.md"
        assert catalogue[name].type == kind, f"{name}: catalogue says {catalogue[name].type}, code {kind}"
        assert catalogue[name].labels == labels, (
            f"{name}: catalogue labels {sorted(catalogue[name].labels)}, code {sorted(labels)}"
        )


def _api_families(tmp_path: Path) -> list[Any]:
    """What the API computes at scrape time, from the registry ``create_app`` builds."""
    store = SqlAlertStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
    try:
        registry = create_app(Settings(), store).state.metrics_registry
        return list(registry.collect())
    finally:
        store.close()


def test_api_scrape_time_metrics_are_in_the_catalogue(tmp_path: Path, ops: Any) -> None:
    catalogue = ops.read_catalogue()
    families = _api_families(tmp_path)
    assert {"veille_open_alerts", "veille_api_store_up"} <= {family.name for family in families}
    for family in families:
        assert family.name in catalogue, f"{family.name} is exported by the API but not in docs/metrics.md"
        assert catalogue[family.name].type == family.type
        # A histogram's bucket bound (le) is the exposition's, not a label the catalogue lists.
        labels = {key for sample in family.samples for key in sample.labels
                  if not (family.type == "histogram" and key == "le")}
        if family.samples:
            assert labels == catalogue[family.name].labels, family.name


def test_the_catalogue_lists_nothing_the_code_does_not_export(ops: Any, tmp_path: Path) -> None:
    metrics = Metrics.create(CollectorRegistry())
    code = {_exposed_name(getattr(metrics, field.name)) for field in dataclasses.fields(metrics)}
    code |= {family.name for family in _api_families(tmp_path)}
    standard = {"up", "process_resident_memory_bytes", "process_cpu_seconds_total"}
    assert set(ops.read_catalogue()) == code | standard
