"""Prometheus scrape endpoint: the process (or multiprocess) registry plus the open-alert gauge."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alerts.model import Severity
from api.auth import PUBLIC
from api.deps import AlertReader
from api.errors import safe_reason
from monitor.metrics import registry_for_scrape

log = logging.getLogger(__name__)

# Open: Prometheus scrapes without credentials, and the families carry counts, never content.
router = APIRouter(tags=["metrics"], dependencies=[Depends(PUBLIC)])


class OpenAlertsCollector(Collector):
    """``veille_open_alerts{severity}`` counted in the store at scrape time.

    Counting on scrape (rather than keeping a gauge up to date) makes the number right whichever
    process opened or closed the alert. If the store fails, the scrape still succeeds: the gauge is
    left out (absent, not a false zero) and ``veille_api_store_up`` says 0.
    """

    def __init__(self, store: AlertReader) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "veille_api_store_up", "1 if the API could count open alerts in the store at this scrape"
        )
        try:
            counts = self._store.count_open_by_severity()
        except Exception as exc:
            log.warning("open alert count failed during scrape: %s", safe_reason(exc))
            up.add_metric([], 0)
            yield up
            return
        gauge = GaugeMetricFamily(
            "veille_open_alerts", "Alerts in status open, per severity", labels=["severity"]
        )
        # Every severity is always present, so a dashboard sees 0 instead of a gap.
        for severity in Severity:
            gauge.add_metric([severity.value], float(counts.get(severity.value, 0)))
        yield gauge
        up.add_metric([], 1)
        yield up


def store_registry(store: AlertReader) -> CollectorRegistry:
    """A registry private to one app, so that creating apps never touches the global registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpenAlertsCollector(store))
    return registry


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    app_registry: CollectorRegistry = request.app.state.metrics_registry
    # Two text expositions concatenate into a valid one as long as metric names do not collide,
    # which the veille_api_/veille_open_ names guarantee.
    body = generate_latest(registry_for_scrape()) + generate_latest(app_registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
