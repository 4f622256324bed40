"""Retention: how long a closed alert keeps its personal data, per jurisdiction.

An alert becomes due when it has been closed for longer than its jurisdiction's number of days
(``"*"`` covers the jurisdictions not listed). ``anonymise`` keeps the alert for statistics (rule,
severity, jurisdiction, verdict, times) and removes who posted and what was matched; ``delete``
removes the alert, its occurrences and comments. Open alerts are never touched: a reviewer still
needs them, and neither are the items of a case under legal hold (:mod:`alerts.cases`): the report
counts what a hold kept. :meth:`alerts.store.SqlAlertStore.apply_retention` applies a policy and
audits each alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_KEY = "*"
ANONYMISED = "[anonymised]"
# Most regulations ask for data no longer than needed: longer than this is almost surely a typo.
MAX_DAYS = 36_500

Mode = Literal["anonymise", "delete"]


class RetentionError(ValueError):
    pass


class RetentionPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    days: dict[str, int] = Field(description='days after closing, per jurisdiction; "*" for the rest')
    mode: Mode = "anonymise"

    @classmethod
    def from_settings(cls, days: Mapping[str, int], mode: Mode) -> RetentionPolicy:
        for jurisdiction, n in days.items():
            if not 0 <= n <= MAX_DAYS:
                raise RetentionError(
                    f"retention for {jurisdiction!r} is {n} days: use 0 to {MAX_DAYS} (VEILLE_RETENTION_DAYS)"
                )
        return cls(days=dict(days), mode=mode)

    def cutoffs(self, now: datetime) -> tuple[dict[str, datetime], datetime | None]:
        """``({jurisdiction: closed before this is due}, default cutoff or None = keep the rest)``."""
        named = {j: now - timedelta(days=n) for j, n in self.days.items() if j != DEFAULT_KEY}
        default = self.days.get(DEFAULT_KEY)
        return named, (now - timedelta(days=default) if default is not None else None)


class RetentionReport(BaseModel):
    mode: Mode
    dry_run: bool
    # Per jurisdiction: how many alerts were (or, in a dry run, would be) anonymised or deleted.
    by_jurisdiction: dict[str, int] = Field(default_factory=dict)
    # Alerts that were due but kept because a case holding them is under legal hold: per
    # jurisdiction (each alert once) and per case (an alert in two held cases counts in both).
    held_by_jurisdiction: dict[str, int] = Field(default_factory=dict)
    held_by_case: dict[str, int] = Field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_jurisdiction.values())

    @property
    def held(self) -> int:
        return sum(self.held_by_jurisdiction.values())

    def summary(self) -> str:
        verb = {"anonymise": "anonymised", "delete": "deleted"}[self.mode]
        if self.dry_run:
            verb = f"would be {verb}"
        if not self.total:
            line = f"retention: nothing due ({self.mode})"
        else:
            parts = ", ".join(f"{j}: {n}" for j, n in sorted(self.by_jurisdiction.items()))
            line = f"retention: {self.total} closed alerts {verb} ({parts})"
        if self.held:
            kept = "would be kept" if self.dry_run else "kept"
            by_j = ", ".join(f"{j}: {n}" for j, n in sorted(self.held_by_jurisdiction.items()))
            by_case = ", ".join(f"case {c}: {n}" for c, n in sorted(self.held_by_case.items()))
            line += f"\nlegal hold: {self.held} due alerts {kept} ({by_j}; {by_case})"
        return line


def anonymised_values(evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """Column values that remove personal data but keep what statistics need."""
    kept = [
        {**e, "snippet": ANONYMISED, "span": None} for e in evidence
    ]  # detector, type and score stay: they feed precision per detector
    return {
        "author_id": ANONYMISED,
        "post_id": ANONYMISED,
        "evidence": kept,
        "origin": {},
        "explanation": [],
    }
