"""The alert queue: list with filters and keyset pagination, and one alert by id."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import ValidationError

from alerts.query import AlertQuery
from api.deps import AlertFiltersDep, StoreDep
from api.errors import BadRequest
from api.schemas import AlertFilters, AlertPublic, AlertsPage, ErrorMessage

router = APIRouter(
    prefix="/alerts",
    tags=["alerts"],
    responses={503: {"model": ErrorMessage, "description": "the alert store is unavailable; retry later"}},
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
def list_alerts(filters: AlertFiltersDep, store: StoreDep) -> AlertsPage:
    """Filters combine with AND; a repeated parameter matches any of its values
    (`?severity=high&severity=critical`)."""
    query = to_query(filters)
    page = store.query(query)
    total = store.count(query)
    return AlertsPage(
        data=[AlertPublic.from_alert(alert) for alert in page.data], next_cursor=page.next_cursor, count=total
    )


@router.get(
    "/{alert_id}",
    response_model=AlertPublic,
    summary="One alert",
    responses={404: {"model": ErrorMessage, "description": "no alert with this id"}},
)
def get_alert(alert_id: str, store: StoreDep) -> AlertPublic:
    alert = store.get(alert_id)
    if alert is None:
        raise HTTPException(status_code=404, detail=f"alert {alert_id!r} not found")
    return AlertPublic.from_alert(alert)
