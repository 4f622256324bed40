"""Counts over the alert queue and per-rule precision from reviewers' verdicts.

Numbers only, never content: the ops role may read them (it may not read alerts themselves).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from alerts.audit import Actor
from alerts.query import AlertQuery
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from api.auth import SqlStoreDep, allow
from api.deps import AlertFiltersDep
from api.routes.alerts import to_query
from api.schemas import AlertFilters, ErrorMessage

log = logging.getLogger(__name__)

ANALYSTS = allow(Role.OFFICER, Role.ADMIN, Role.OPS)
AnalystDep = Annotated[Actor, Depends(ANALYSTS)]

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    responses={
        401: {"model": ErrorMessage, "description": "missing, unknown, revoked or expired token"},
        403: {"model": ErrorMessage, "description": "the token's role may not read analytics"},
    },
)

GroupBy = Literal["rule_id", "jurisdiction", "severity", "status", "source", "channel", "verdict", "silenced"]


class CountFilters(AlertFilters):
    by: GroupBy = Field(default="rule_id", description="the column to count by")


class Counts(BaseModel):
    by: GroupBy
    total: int
    counts: dict[str, int] = Field(examples=[{"high": 12, "critical": 3}])


class RulePrecision(BaseModel):
    rule_id: str
    closed_with_verdict: int
    true_positive: int
    false_positive: int
    benign: int
    duplicate: int
    precision: float = Field(description="true positives / closed with a verdict")


class PrecisionReport(BaseModel):
    rules: list[RulePrecision] = Field(description="lowest precision first: the rules worth tuning")


@router.get("/counts", response_model=Counts, summary="Alerts per rule, jurisdiction, severity, ...")
def counts(filters: Annotated[CountFilters, Query()], store: SqlStoreDep, actor: AnalystDep) -> Counts:
    """The alert filters apply (`?since=...&severity=high`); `limit` and `cursor` are ignored."""
    grouped = store.count_by(filters.by, to_query(filters))
    return Counts(by=filters.by, total=sum(grouped.values()), counts=grouped)


@router.get("/precision", response_model=PrecisionReport, summary="Per-rule precision from verdicts")
def precision(filters: AlertFiltersDep, store: SqlStoreDep, actor: AnalystDep) -> PrecisionReport:
    rules = []
    for rule_id, verdicts in store.precision_by_rule(to_query(filters)).items():
        closed = sum(verdicts.values())
        rules.append(
            RulePrecision(
                rule_id=rule_id,
                closed_with_verdict=closed,
                precision=round(verdicts["true_positive"] / closed, 4),
                **verdicts,
            )
        )
    rules.sort(key=lambda r: (r.precision, -r.closed_with_verdict, r.rule_id))
    return PrecisionReport(rules=rules)


class TimeBucket(BaseModel):
    start: datetime = Field(description="start of the bucket, UTC")
    counts: dict[str, int]


class TimeSeriesFilters(CountFilters):
    bucket: Literal["hour", "day"] = Field(default="day", description="bucket width (UTC)")


class TimeSeries(BaseModel):
    by: GroupBy
    bucket: Literal["hour", "day"]
    series: list[TimeBucket] = Field(description="oldest first; empty buckets are left out")


class DurationStats(BaseModel):
    count: int
    mean_seconds: float | None = None
    median_seconds: float | None = None
    p90_seconds: float | None = None


class ReviewTimes(BaseModel):
    time_to_acknowledge: DurationStats = Field(description="creation → first move out of open")
    time_to_close: DurationStats = Field(description="creation → closed (alerts closed now)")


class TopFilters(AlertFilters):
    top: int = Field(default=10, ge=1, le=100, description="how many rules")


class FalsePositives(BaseModel):
    rules: list[RulePrecision] = Field(description="most false positives first")


@router.get("/timeseries", response_model=TimeSeries, summary="Alerts per hour or day, by a column")
def timeseries(
    filters: Annotated[TimeSeriesFilters, Query()], store: SqlStoreDep, actor: AnalystDep
) -> TimeSeries:
    grouped = store.count_over_time(filters.by, filters.bucket, to_query(filters))
    series = [TimeBucket(start=start, counts=counts) for start, counts in sorted(grouped.items())]
    return TimeSeries(by=filters.by, bucket=filters.bucket, series=series)


@router.get("/review-times", response_model=ReviewTimes, summary="Time to acknowledge and to close")
def review_times(filters: AlertFiltersDep, store: SqlStoreDep, actor: AnalystDep) -> ReviewTimes:
    durations = store.review_durations(to_query(filters))
    return ReviewTimes(
        time_to_acknowledge=_stats(durations["acknowledge"]), time_to_close=_stats(durations["close"])
    )


@router.get("/false-positives", response_model=FalsePositives, summary="Top rules by false positives")
def false_positives(
    filters: Annotated[TopFilters, Query()], store: SqlStoreDep, actor: AnalystDep
) -> FalsePositives:
    rules = [r for r in precision(filters, store, actor).rules if r.false_positive > 0]
    rules.sort(key=lambda r: (-r.false_positive, r.precision, r.rule_id))
    return FalsePositives(rules=rules[: filters.top])


def _stats(values: list[float]) -> DurationStats:
    if not values:
        return DurationStats(count=0)
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return DurationStats(
        count=len(ordered),
        mean_seconds=round(statistics.fmean(ordered), 3),
        median_seconds=round(statistics.median(ordered), 3),
        p90_seconds=round(p90, 3),
    )


class PrecisionCollector(Collector):
    """``veille_review_rule_precision{rule}`` and ``veille_review_rule_verdicts{rule,verdict}``,
    computed in the store at scrape time (as the open-alert gauge is), so every API process agrees.

    Labels come from rule ids and the fixed verdict set only. A rule with no verdict yet has no
    precision series (unknown, not 0).
    """

    def __init__(self, store: SqlAlertStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            by_rule = self._store.precision_by_rule(AlertQuery())
        except Exception as exc:  # a failed count must not fail the whole scrape
            log.warning("rule precision unavailable during scrape: %s", type(exc).__name__)
            return
        verdicts = GaugeMetricFamily(
            "veille_review_rule_verdicts", "Closed alerts per rule and verdict", labels=["rule", "verdict"]
        )
        precision = GaugeMetricFamily(
            "veille_review_rule_precision", "True positives / alerts closed with a verdict", labels=["rule"]
        )
        for rule_id, counts in sorted(by_rule.items()):
            for verdict, n in counts.items():
                verdicts.add_metric([rule_id, verdict], float(n))
            precision.add_metric([rule_id], counts["true_positive"] / sum(counts.values()))
        yield verdicts
        yield precision
