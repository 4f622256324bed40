"""Every dependency the routes declare, as ``Annotated`` aliases (``StoreDep``, ``ReaderDep``, ...).

Everything comes from ``app.state``, filled by :func:`api.app.create_app`: nothing is built at import
time, so several apps (tests, or one per store) can live in one process. Who may call what is
decided in :mod:`api.auth`; the aliases here only attach its guards. The store's accessor lives
there too (:func:`api.auth.get_store`), since authentication reads tokens from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from alerts.audit import Actor
from alerts.query import Instant
from alerts.reputation_store import ReputationStore
from alerts.store import SqlAlertStore
from api.auth import (
    ADMINS,
    ANALYSTS,
    READERS,
    REVIEWERS,
    SIGNED_IN,
    SUPERVISORS,
    Pseudonymizer,
    get_store,
)
from api.schemas import AlertFilters
from api.services.alert_stream import StreamSlots
from api.services.brands import BrandReports, WindowQuery
from api.services.policies import PolicyCatalogue
from monitor.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pseudonymizer(request: Request) -> Pseudonymizer:
    pseudonymizer: Pseudonymizer = request.app.state.pseudonymizer
    return pseudonymizer


def get_stream_slots(request: Request) -> StreamSlots:
    slots: StreamSlots = request.app.state.stream_slots
    return slots


def get_readiness_checks(request: Request) -> Mapping[str, Callable[[], None]]:
    checks: Mapping[str, Callable[[], None]] = request.app.state.readiness_checks
    return checks


def get_policy_catalogue(request: Request) -> PolicyCatalogue:
    catalogue: PolicyCatalogue = request.app.state.policy_catalogue
    return catalogue


StoreDep = Annotated[SqlAlertStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PseudonymizerDep = Annotated[Pseudonymizer, Depends(get_pseudonymizer)]
ReadinessChecksDep = Annotated[Mapping[str, Callable[[], None]], Depends(get_readiness_checks)]
PolicyCatalogueDep = Annotated[PolicyCatalogue, Depends(get_policy_catalogue)]
StreamSlotsDep = Annotated[StreamSlots, Depends(get_stream_slots)]

# The caller, once authenticated and allowed (see api.auth for who each guard lets in).
ReaderDep = Annotated[Actor, Depends(READERS)]
ReviewerDep = Annotated[Actor, Depends(REVIEWERS)]
SupervisorDep = Annotated[Actor, Depends(SUPERVISORS)]
AnalystDep = Annotated[Actor, Depends(ANALYSTS)]
AdminDep = Annotated[Actor, Depends(ADMINS)]
SignedInDep = Annotated[Actor, Depends(SIGNED_IN)]

AlertFiltersDep = Annotated[AlertFilters, Query()]
AlertId = Annotated[str, Path(min_length=1, max_length=64, description="the alert's id")]


def get_brand_reports(request: Request, settings: SettingsDep) -> BrandReports:
    store: ReputationStore = request.app.state.reputation_store
    return BrandReports(store, [b.name for b in settings.brands], settings.reputation.window_seconds)


def get_window_query(
    start: Annotated[Instant, Query(alias="from", description="ISO 8601 with a timezone, inclusive")],
    end: Annotated[Instant, Query(alias="to", description="ISO 8601 with a timezone, exclusive")],
    jurisdiction: Annotated[str | None, Query(max_length=16, description="policy pack, e.g. FR")] = None,
    source: Annotated[str | None, Query(pattern="^(internal|external)$")] = None,
) -> WindowQuery:
    return WindowQuery(start, end, jurisdiction.upper() if jurisdiction else None, source)


BrandReportsDep = Annotated[BrandReports, Depends(get_brand_reports)]
WindowQueryDep = Annotated[WindowQuery, Depends(get_window_query)]
