"""The alert queue: list with filters and keyset pagination, and one alert by id."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from alerts.query import AlertQuery
from alerts.tokens import Role
from api.auth import COMMS_RULE_MARKERS, ReaderDep, SqlStoreDep, comms_may_see, visible_alert
from api.deps import AlertFiltersDep, StoreDep
from api.errors import BadRequest
from api.schemas import AlertFilters, AlertPublic, AlertsPage, ErrorMessage

router = APIRouter(
    prefix="/alerts",
    tags=["alerts"],
    responses={
        401: {"model": ErrorMessage, "description": "missing, unknown, revoked or expired token"},
        403: {"model": ErrorMessage, "description": "the token's role may not call this route"},
        503: {"model": ErrorMessage, "description": "the alert store is unavailable; retry later"},
    },
)


def to_query(filters: AlertFilters) -> AlertQuery:
    """The store query for validated request filters; an empty list means "no filter"."""
    if filters.since is not None and filters.until is not None and filters.since >= filters.until:
        raise BadRequest(
            f"since ({filters.since.isoformat()}) must be earlier than until ({filters.until.isoformat()})"
        )
    try:
        return AlertQuery(
            status=filters.status or None,
            severity=filters.severity or None,
            jurisdiction=filters.jurisdiction or None,
            rule_id=filters.rule or None,
            source=[str(source) for source in filters.source] or None,
            since=filters.since,
            until=filters.until,
            limit=filters.limit,
            cursor=filters.cursor,
        )
    except ValidationError as exc:
        # AlertFilters mirrors AlertQuery's constraints, so this is a drift between the two: still
        # the client's input, still a 400 that says which field, never a 500.
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "query"
        raise BadRequest(f"{field}: {first['msg']}") from None


@router.get(
    "",
    response_model=AlertsPage,
    summary="List alerts, newest first",
    responses={400: {"model": ErrorMessage, "description": "invalid cursor or empty time range"}},
)
def list_alerts(filters: AlertFiltersDep, store: StoreDep, actor: ReaderDep, request: Request) -> AlertsPage:
    """Filters combine with AND; a repeated parameter matches any of its values
    (`?severity=high&severity=critical`). Roles: officer, admin; comms sees e-reputation and brand
    alerts only, author pseudonymised, without personal-data evidence."""
    query = to_query(filters)
    if actor.role == Role.COMMS.value:
        query = query.model_copy(update={"rule_id_contains": list(COMMS_RULE_MARKERS)})
    page = store.query(query)
    total = store.count(query)
    pseudonymize = request.app.state.pseudonymizer
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
def get_alert(alert_id: str, store: SqlStoreDep, actor: ReaderDep, request: Request) -> AlertPublic:
    """Every call is written to the audit log (who viewed which alert's evidence, when)."""
    alert = store.get(alert_id)
    # Comms gets the same answer for an alert outside its scope as for a missing one.
    if alert is None or (actor.role == Role.COMMS.value and not comms_may_see(alert)):
        raise HTTPException(status_code=404, detail=f"alert {alert_id!r} not found")
    store.record_view(alert_id, actor)
    return visible_alert(alert, actor, request.app.state.pseudonymizer)
