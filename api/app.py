"""The FastAPI app factory: everything the app needs is passed in, nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from alerts.reputation_store import ReputationStore
from alerts.store import SqlAlertStore, StoreError
from api.auth import Pseudonymizer, install_bootstrap_token
from api.collectors import store_registry
from api.errors import install_error_handlers
from api.middleware import BodyLimit, NoStore
from api.routes import (
    alerts,
    analytics,
    audit,
    brands,
    cases,
    console,
    health,
    metrics,
    review,
    session,
    silences,
    stream,
    supervision,
    tokens,
)
from api.routes import policies as policies_routes
from api.services.alert_stream import StreamSlots
from api.services.policies import PolicyCatalogue
from monitor.metrics import default_metrics
from monitor.settings import Settings
from policies import PolicySet

log = logging.getLogger(__name__)

API_V1_PREFIX = "/api/v1"
# How often closed view windows are written and a quiet head is checkpointed (both cheap when idle).
AUDIT_FLUSH_SECONDS = 1.0


def create_app(
    settings: Settings,
    store: SqlAlertStore,
    *,
    readiness_checks: Mapping[str, Callable[[], None]] | None = None,
    policies: PolicySet | None = None,
) -> FastAPI:
    """The API over ``store``.

    ``readiness_checks`` are extra callables that raise when a dependency is not usable (e.g. the
    Kafka broker); ``/readyz`` runs them after the store's ``ping``. They are injected so that the API
    never imports a Kafka client. The caller owns ``store`` and closes it after the app stops.
    ``policies`` is the policy set of a process that already loaded one; without it the packs
    (shipped plus ``settings.policies_dir``) load once, when the policies routes are first used.
    """
    checks = dict(readiness_checks or {})
    if "store" in checks:
        raise ValueError("readiness check name 'store' is reserved for the store's own ping")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The standard veille_* families exist from the first scrape, even before any worker ran.
        default_metrics()
        if settings.bootstrap_admin_token is not None:
            install_bootstrap_token(
                store, settings.bootstrap_admin_token.get_secret_value(), settings.bootstrap_admin_token_days
            )
        flusher = asyncio.create_task(_flush_audit(store))
        log.info("API ready on %s:%s", settings.api_host, settings.api_port)
        yield
        log.info("API stopping")
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        try:
            await run_in_threadpool(lambda: store.flush_audit(final=True))
        except StoreError as exc:
            log.error("pending audit view counts or checkpoint not written at shutdown: %s", exc)

    app = FastAPI(
        title="Veille",
        summary="Governance and social-media risk compliance monitor",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.readiness_checks = checks
    # The reputation tables live in the alert store's database: its engine, never a second one.
    app.state.reputation_store = ReputationStore(store.engine)
    app.state.metrics_registry = store_registry(store)
    key = settings.pseudonym_key
    app.state.policy_catalogue = PolicyCatalogue(policies, settings.policies_dir, settings.detectors)
    app.state.pseudonymizer = Pseudonymizer(key.get_secret_value().encode() if key is not None else None)

    app.state.stream_slots = StreamSlots(settings.api_streams_per_token)

    # Added last is outermost: the 413 of the body limit is not cached either.
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(NoStore)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    # Unversioned paths are kept for humans and curl; clients should use /api/v1.
    app.include_router(alerts.router)
    # Before the alerts router: /alerts/stream must not be taken for the alert with id "stream".
    app.include_router(stream.router, prefix=API_V1_PREFIX)
    app.include_router(alerts.router, prefix=API_V1_PREFIX)
    app.include_router(tokens.router, prefix=API_V1_PREFIX)
    app.include_router(review.router, prefix=API_V1_PREFIX)
    app.include_router(audit.router, prefix=API_V1_PREFIX)
    app.include_router(analytics.router, prefix=API_V1_PREFIX)
    app.include_router(silences.router, prefix=API_V1_PREFIX)
    app.include_router(cases.router, prefix=API_V1_PREFIX)
    app.include_router(brands.router, prefix=API_V1_PREFIX)
    app.include_router(policies_routes.router, prefix=API_V1_PREFIX)
    app.include_router(session.router, prefix=API_V1_PREFIX)
    app.include_router(supervision.router, prefix=API_V1_PREFIX)
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=console.STATIC_DIR), name="static")
    return app


async def _flush_audit(store: SqlAlertStore) -> None:
    while True:
        await asyncio.sleep(AUDIT_FLUSH_SECONDS)
        try:
            await run_in_threadpool(store.flush_audit)
        except StoreError as exc:
            log.warning("audit view counts or checkpoint not written yet (retried): %s", exc)
