"""Prometheus scrape endpoint: the process (or multiprocess) registry plus the app's own collectors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.auth import PUBLIC
from monitor.metrics import registry_for_scrape

# Open: Prometheus scrapes without credentials, and the families carry counts, never content.
router = APIRouter(tags=["metrics"], dependencies=[Depends(PUBLIC)])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    app_registry: CollectorRegistry = request.app.state.metrics_registry
    # Two text expositions concatenate into a valid one as long as metric names do not collide,
    # which the veille_api_/veille_open_ names guarantee.
    body = generate_latest(registry_for_scrape()) + generate_latest(app_registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
