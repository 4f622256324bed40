"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from alerts.store import StoreUnavailable
from api.auth import PUBLIC
from api.deps import ReadinessChecksDep, StoreDep
from api.errors import safe_reason
from api.schemas import CheckState, Health, Readiness

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"], dependencies=[Depends(PUBLIC)])

# Failures that mean "cannot reach it" (a database or broker down or unreachable), told apart from
# a dependency that answers wrongly.
UNREACHABLE = (StoreUnavailable, ConnectionError, TimeoutError)


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    # Deliberately checks nothing else: a dependency outage must not get the process restarted.
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The store and every dependency answer",
    responses={503: {"model": Readiness, "description": "a check failed; `checks` says which"}},
)
def readyz(store: StoreDep, extra: ReadinessChecksDep) -> JSONResponse:
    # A sync endpoint on purpose: checks block (a database round trip, a broker connect), so they
    # run in the threadpool rather than on the event loop.
    checks: dict[str, Callable[[], None]] = {"store": store.ping, **extra}
    results: dict[str, CheckState] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason is logged, not raised
            results[name] = "unreachable" if isinstance(exc, UNREACHABLE) else "failed"
            # The reason may name hosts and ports: operators read it in the log, anonymous callers
            # of this open route get the state only.
            log.warning("readiness check %s failed: %s", name, safe_reason(exc))
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=results)
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())
