"""`veille supervision report`: evidence of supervisory review per sampling population, the report a
principal signs (rules in :mod:`alerts.supervision`; the same figures as ``GET /api/v1/supervision/report``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

import typer

from alerts.store import SqlAlertStore, StoreError
from alerts.supervision import NO_POPULATION, SupervisionReport, to_csv
from monitor.settings import Settings

supervision_app = typer.Typer(help="Evidence of supervisory review (FINRA Rule 3110).", no_args_is_help=True)


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _instant(option: str, value: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 instant; without a timezone, UTC (as posts are read)."""
    try:
        parsed = datetime.fromisoformat(value) if "T" in value or " " in value else None
        if parsed is None:
            day = date.fromisoformat(value)
            parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    except ValueError:
        typer.echo(f"error: {option} {value!r} is not a date or an instant: use e.g. 2026-11-01 or "
                   "2026-11-01T09:00:00Z", err=True)
        raise typer.Exit(2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@supervision_app.command("report")
def report(
    from_: Annotated[str, typer.Option("--from", help="start of the period, inclusive: 2026-11-01 or an "
                                                      "ISO 8601 instant (UTC unless it says otherwise)")],
    to: Annotated[str, typer.Option("--to", help="end of the period, exclusive")],
    population: Annotated[
        list[str] | None, typer.Option("--population", help=f"only this population (repeatable); "
                                                            f"{NO_POPULATION} for items of none")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="count reviews up to this instant; "
                                                              "default now")] = None,
    output: Annotated[ReportFormat, typer.Option("--format", help="table, csv or json")] = ReportFormat.TABLE,
) -> None:
    """Per population: items sampled, alerts raised, reviewed, pending, by reviewer, median time to
    review. An item is reviewed once a person recorded a transition or a comment on it (opening it is
    not a review)."""
    start, end = _instant("--from", from_), _instant("--to", to)
    if start >= end:
        typer.echo(f"error: the period is empty: --from ({start.isoformat()}) must be earlier than --to "
                   f"({end.isoformat()})", err=True)
        raise typer.Exit(2)
    settings = Settings()
    try:
        store = SqlAlertStore.open(settings.resolved_database_url)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        result = store.supervision_report(
            start, end, as_of=_instant("--as-of", as_of) if as_of else None, populations=population or None
        )
    finally:
        store.close()
    if output is ReportFormat.JSON:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
    elif output is ReportFormat.CSV:
        typer.echo(to_csv(result), nl=False)
    else:
        typer.echo(render_table(result))


def render_table(result: SupervisionReport) -> str:
    header = ("population", "sampled", "alerts", "reviewed", "pending", "median to review", "by reviewer")
    rows = [header]
    for figures in [*result.populations, result.total]:
        median = figures.median_seconds_to_review
        rows.append((
            figures.population, str(figures.sampled), str(figures.alerts), str(figures.reviewed),
            str(figures.pending), "-" if median is None else _duration(median),
            ", ".join(f"{name} {n}" for name, n in figures.by_reviewer.items()) or "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        f"Supervision report {result.start.isoformat()} to {result.end.isoformat()} "
        f"(reviews as of {result.as_of.isoformat()})",
        f"Reviewed: a person recorded one of {', '.join(result.review_actions)}; opening is not a review.",
        "",
    ]
    for index, row in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(cell.ljust(w) if i in (0, 6) else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
