"""Counts over the alert queue, per-rule precision from reviewers' verdicts, and review times.

Numbers only, never content: the ops role may read them (it may not read alerts themselves).
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from alerts.query import AlertQuery
from alerts.store import SqlAlertStore

GroupBy = Literal["rule_id", "jurisdiction", "severity", "status", "source", "channel", "verdict", "silenced"]
Bucket = Literal["hour", "day"]


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


class TimeBucket(BaseModel):
    start: datetime = Field(description="start of the bucket, UTC")
    counts: dict[str, int]


class TimeSeries(BaseModel):
    by: GroupBy
    bucket: Bucket
    series: list[TimeBucket] = Field(description="oldest first; empty buckets are left out")


class DurationStats(BaseModel):
    count: int
    mean_seconds: float | None = None
    median_seconds: float | None = None
    p90_seconds: float | None = None


class ReviewTimes(BaseModel):
    time_to_acknowledge: DurationStats = Field(description="creation → first move out of open")
    time_to_close: DurationStats = Field(description="creation → closed (alerts closed now)")


class FalsePositives(BaseModel):
    rules: list[RulePrecision] = Field(description="most false positives first")


def counts(store: SqlAlertStore, by: GroupBy, query: AlertQuery) -> Counts:
    grouped = store.count_by(by, query)
    return Counts(by=by, total=sum(grouped.values()), counts=grouped)


def precision(store: SqlAlertStore, query: AlertQuery) -> PrecisionReport:
    rules = []
    for rule_id, verdicts in store.precision_by_rule(query).items():
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


def false_positives(store: SqlAlertStore, query: AlertQuery, top: int) -> FalsePositives:
    rules = [r for r in precision(store, query).rules if r.false_positive > 0]
    rules.sort(key=lambda r: (-r.false_positive, r.precision, r.rule_id))
    return FalsePositives(rules=rules[:top])


def timeseries(store: SqlAlertStore, by: GroupBy, bucket: Bucket, query: AlertQuery) -> TimeSeries:
    grouped = store.count_over_time(by, bucket, query)
    series = [TimeBucket(start=start, counts=counts) for start, counts in sorted(grouped.items())]
    return TimeSeries(by=by, bucket=bucket, series=series)


def review_times(store: SqlAlertStore, query: AlertQuery) -> ReviewTimes:
    durations = store.review_durations(query)
    return ReviewTimes(
        time_to_acknowledge=_stats(durations["acknowledge"]), time_to_close=_stats(durations["close"])
    )


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
