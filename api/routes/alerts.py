"""The alert queue: list with filters and keyset pagination, and one alert by id."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from alerts.tokens import Role
from api.auth import comms_may_see, visible_alert
from api.deps import AlertFiltersDep, PseudonymizerDep, ReaderDep, StoreDep
from api.schemas import STORE_UNAVAILABLE, AlertPublic, AlertsPage, ErrorMessage, guarded_responses

router = APIRouter(
    prefix="/alerts",
    tags=["alerts"],
    responses={**guarded_responses("the token's role may not call this route"), 503: STORE_UNAVAILABLE},
)


@router.get(
    "",
    response_model=AlertsPage,
    summary="List alerts, newest first",
    responses={400: {"model": ErrorMessage, "description": "invalid cursor or empty time range"}},
)
def list_alerts(
    filters: AlertFiltersDep, store: StoreDep, actor: ReaderDep, pseudonymize: PseudonymizerDep
) -> AlertsPage:
    """Filters combine with AND; a repeated parameter matches any of its values
    (`?severity=high&severity=critical`). Roles: officer, reviewer, principal, admin; comms sees only
    the alerts of rules whose audience lists communications (and e-reputation spikes), author and post
    pseudonymised, without personal-data evidence, identifiers masked. The second level's queues:
    `?status=pending_approval` (closures to approve) and `?qa=pending` (closures drawn for QA)."""
    query = filters.to_query()
    if actor.role == Role.COMMS.value:
        query = query.model_copy(update={"comms_visible": True})
    page = store.query(query)
    total = store.count(query)
    return AlertsPage(
        data=[visible_alert(alert, actor, pseudonymize) for alert in page.data],
        next_cursor=page.next_cursor,
        count=total,
    )


@router.get(
    "/{alert_id}",
    response_model=AlertPublic,
    summary="One alert",
    responses={404: {"model": ErrorMessage, "description": "no alert with this id"}},
)
def get_alert(
    alert_id: str, store: StoreDep, actor: ReaderDep, pseudonymize: PseudonymizerDep
) -> AlertPublic:
    """Every call is accounted for in the audit log: the first view by a token at once, repeats within
    VEILLE_AUDIT_VIEW_WINDOW_SECONDS as one entry with their count."""
    alert = store.get(alert_id)
    # Comms gets the same answer for an alert outside its scope as for a missing one.
    if alert is None or (actor.role == Role.COMMS.value and not comms_may_see(alert)):
        raise HTTPException(status_code=404, detail=f"alert {alert_id!r} not found")
    store.record_view(alert_id, actor)
    return visible_alert(alert, actor, pseudonymize)
