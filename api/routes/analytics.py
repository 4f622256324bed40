"""Counts over the alert queue and per-rule precision from reviewers' verdicts (officer, principal,
reviewer, admin, ops)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import AlertFiltersDep, AnalystDep, StoreDep
from api.schemas import AlertFilters, guarded_responses
from api.services import analytics
from api.services.analytics import (
    Bucket,
    Counts,
    FalsePositives,
    GroupBy,
    PrecisionReport,
    ReviewTimes,
    TimeSeries,
)

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    responses=guarded_responses("the token's role may not read analytics"),
)


class CountFilters(AlertFilters):
    by: GroupBy = Field(default="rule_id", description="the column to count by")


class TimeSeriesFilters(CountFilters):
    bucket: Bucket = Field(default="day", description="bucket width (UTC)")


class TopFilters(AlertFilters):
    top: int = Field(default=10, ge=1, le=100, description="how many rules")


@router.get("/counts", response_model=Counts, summary="Alerts per rule, jurisdiction, severity, ...")
def counts(filters: Annotated[CountFilters, Query()], store: StoreDep, actor: AnalystDep) -> Counts:
    """The alert filters apply (`?since=...&severity=high`); `limit` and `cursor` are ignored."""
    return analytics.counts(store, filters.by, filters.to_query())


@router.get("/precision", response_model=PrecisionReport, summary="Per-rule precision from verdicts")
def precision(filters: AlertFiltersDep, store: StoreDep, actor: AnalystDep) -> PrecisionReport:
    return analytics.precision(store, filters.to_query())


@router.get("/timeseries", response_model=TimeSeries, summary="Alerts per hour or day, by a column")
def timeseries(
    filters: Annotated[TimeSeriesFilters, Query()], store: StoreDep, actor: AnalystDep
) -> TimeSeries:
    return analytics.timeseries(store, filters.by, filters.bucket, filters.to_query())


@router.get("/review-times", response_model=ReviewTimes, summary="Time to acknowledge and to close")
def review_times(filters: AlertFiltersDep, store: StoreDep, actor: AnalystDep) -> ReviewTimes:
    return analytics.review_times(store, filters.to_query())


@router.get("/false-positives", response_model=FalsePositives, summary="Top rules by false positives")
def false_positives(
    filters: Annotated[TopFilters, Query()], store: StoreDep, actor: AnalystDep
) -> FalsePositives:
    return analytics.false_positives(store, filters.to_query(), filters.top)
