"""Evidence of supervisory review (FINRA Rule 3110.07): per sampling population, what entered the
review queue in a period and whether a person reviewed it, by whom and how fast.

Definitions, which the report prints with its numbers:

- An item is a row of the alert queue (``kind`` alert or sample) whose ``created_at`` (when it was
  stored) falls in ``[start, end)``; its population is the one stored on it (:mod:`policies.sampling`).
- An item is *reviewed* once a person recorded a review action on it in the audit chain: one of
  :data:`REVIEW_ACTIONS` (a status transition, which carries any verdict, a comment, or a review
  level's approval request, decision or QA outcome) at or before
  ``as_of``. Opening an item (``alert.view``) or assigning it is not a review. Its *reviewer* is the
  actor of that first action; its *time to review* runs from ``created_at`` to it.
- *Pending*: items of the period not reviewed by ``as_of``.

The figures are computed from the rows :mod:`alerts.sql.supervision` reads (pure, no SQL here), so
that they can be checked against the store independently.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alerts.model import AlertKind

# Audit actions that count as a person reviewing an item: a status transition (with any verdict) or a
# comment, and the review levels' own actions (a close awaiting a second reviewer's approval, that
# approval or refusal, a QA outcome), which a branch of its own writes into the same chain.
REVIEW_ACTIONS = (
    "alert.transition", "alert.comment", "alert.approval_requested", "alert.approval", "alert.qa",
)
# The report's label for items whose post matched no sampling population.
NO_POPULATION = "(none)"


@dataclass(frozen=True)
class ReviewedItem:
    """One item of the period as the store holds it, with its first review action if any."""

    kind: AlertKind
    population: str | None
    created_at: datetime
    reviewed_at: datetime | None = None
    reviewer: str | None = None


class PopulationFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    population: str = Field(description=f"sampling population; {NO_POPULATION} when none matched")
    sampled: int = Field(description="sample items stored in the period")
    alerts: int = Field(description="alerts stored in the period")
    reviewed: int = Field(description="items (samples and alerts) a person reviewed by as_of")
    pending: int = Field(description="items not reviewed by as_of")
    samples_reviewed: int
    samples_pending: int
    by_reviewer: dict[str, int] = Field(description="items per reviewer of their first review action")
    median_seconds_to_review: float | None = Field(description="null when nothing was reviewed")


class SupervisionReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    as_of: datetime
    review_actions: list[str] = Field(default_factory=lambda: list(REVIEW_ACTIONS))
    populations: list[PopulationFigures]
    total: PopulationFigures


def build_report(
    items: Iterable[ReviewedItem],
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    populations: Sequence[str] | None = None,
) -> SupervisionReport:
    """The figures per population (sorted by name) and in total; ``populations`` keeps only those."""
    groups: dict[str, list[ReviewedItem]] = {}
    for item in items:
        name = item.population or NO_POPULATION
        if populations and name not in populations:
            continue
        groups.setdefault(name, []).append(item)
    every = [item for name in sorted(groups) for item in groups[name]]
    return SupervisionReport(
        start=start,
        end=end,
        as_of=as_of,
        populations=[_figures(name, groups[name], as_of) for name in sorted(groups)],
        total=_figures("total", every, as_of),
    )


def _figures(name: str, items: Sequence[ReviewedItem], as_of: datetime) -> PopulationFigures:
    reviewed = [i for i in items if i.reviewed_at is not None and i.reviewed_at <= as_of]
    samples = [i for i in items if i.kind is AlertKind.SAMPLE]
    samples_reviewed = sum(1 for i in reviewed if i.kind is AlertKind.SAMPLE)
    by_reviewer: dict[str, int] = {}
    for item in reviewed:
        by_reviewer[item.reviewer or ""] = by_reviewer.get(item.reviewer or "", 0) + 1
    # A producer clock ahead of ours cannot make a review happen before its item: count it as 0.
    delays = [max(0.0, (i.reviewed_at - i.created_at).total_seconds()) for i in reviewed if i.reviewed_at]
    return PopulationFigures(
        population=name,
        sampled=len(samples),
        alerts=len(items) - len(samples),
        reviewed=len(reviewed),
        pending=len(items) - len(reviewed),
        samples_reviewed=samples_reviewed,
        samples_pending=len(samples) - samples_reviewed,
        by_reviewer=dict(sorted(by_reviewer.items())),
        median_seconds_to_review=statistics.median(delays) if delays else None,
    )


CSV_COLUMNS = (
    "from", "to", "as_of", "population", "sampled", "alerts", "reviewed", "pending", "samples_reviewed",
    "samples_pending", "median_seconds_to_review", "by_reviewer",
)


def to_csv(report: SupervisionReport) -> str:
    """One row per population, then the total; ``by_reviewer`` as ``name=count`` pairs joined by ``;``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    period = [report.start.isoformat(), report.end.isoformat(), report.as_of.isoformat()]
    for figures in [*report.populations, report.total]:
        median = figures.median_seconds_to_review
        reviewers = ";".join(f"{name}={n}" for name, n in figures.by_reviewer.items())
        writer.writerow([
            *period, figures.population, figures.sampled, figures.alerts, figures.reviewed,
            figures.pending, figures.samples_reviewed, figures.samples_pending,
            "" if median is None else f"{median:.3f}", _cell(reviewers),
        ])
    return out.getvalue()


def _cell(value: str) -> str:
    # A reviewer (token) name starting like a formula must not run when the file is opened in a
    # spreadsheet (CSV injection): a leading quote makes it text.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value
