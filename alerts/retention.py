"""Retention: how long a closed alert keeps its personal data, per jurisdiction.

Each policy pack states its jurisdiction's period and the rule behind it (``retention:`` in
``policies/packs``: US 3 years under SEC 17a-4, GB 5 years under SYSC 10A, EU storage limitation);
an organisation overrides it with an overlay, or with VEILLE_RETENTION_DAYS, which wins over every
pack (:func:`resolve`, shown by ``veille retention policy``).

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

from pydantic import BaseModel, ConfigDict, Field, computed_field

from policies.loader import GLOBAL, PolicySet
from policies.packfile import RETENTION_MAX_DAYS

DEFAULT_KEY = "*"
ANONYMISED = "[anonymised]"
# Most regulations ask for data no longer than needed: longer than this is almost surely a typo.
MAX_DAYS = RETENTION_MAX_DAYS
OVERRIDE_SETTING = "VEILLE_RETENTION_DAYS"

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
            _check_days(jurisdiction, n)
        return cls(days=dict(days), mode=mode)

    def cutoffs(self, now: datetime) -> tuple[dict[str, datetime], datetime | None]:
        """``({jurisdiction: closed before this is due}, default cutoff or None = keep the rest)``."""
        named = {j: now - timedelta(days=n) for j, n in self.days.items() if j != DEFAULT_KEY}
        default = self.days.get(DEFAULT_KEY)
        return named, (now - timedelta(days=default) if default is not None else None)


class RetentionRule(BaseModel):
    """One jurisdiction's resolved retention, as ``veille retention policy`` shows it."""

    jurisdiction: str  # a pack's jurisdiction ("GLOBAL": every code no other pack covers), or a code
    days: int | None = Field(description="days after closing; null: kept, no period set")
    mode: Mode
    source: str = Field(description="the regulation or decision behind the period")
    origin: str | None = Field(default=None, description="file:line of the pack or overlay that set it")
    overridden_by: str | None = Field(
        default=None, description="the overlay (file:line) or setting that replaced the default"
    )
    covers: list[str] = Field(default_factory=list, description="other codes that take this period")
    required_days: int | None = Field(
        default=None,
        description="the pack's period when a regulation requires keeping records that long (a minimum "
        "an override should not go under, and within which erasure requests are refused)",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def conflict(self) -> str | None:
        """Why the period in force breaks the regulation's minimum, if it does."""
        if self.required_days is None or self.days is None or self.days >= self.required_days:
            return None
        return f"{self.days} days is shorter than the {self.required_days} days the regulation requires"


def resolve(
    policies: PolicySet, overrides: Mapping[str, int] | None, mode: Mode
) -> tuple[RetentionPolicy, list[RetentionRule]]:
    """The policy ``apply_retention`` applies, and its rows with their sources.

    Each pack's ``retention:`` (inherited along ``extends``, replaced by an organisation's overlay)
    applies to its jurisdiction and the codes it covers; the GLOBAL pack's to every other code.
    ``overrides`` (VEILLE_RETENTION_DAYS, when set) win over the packs, key by key: a pack's
    jurisdiction (with the codes it covers), ``"*"`` for GLOBAL, or any other code on its own.
    """
    rows: dict[str, RetentionRule] = {}
    for jurisdiction, plan in policies.plans.items():
        found = plan.retention
        covered = sorted(
            code for code, target in policies.covers.items()
            if target == jurisdiction and code not in policies.plans
        )
        rows[jurisdiction] = RetentionRule(
            jurisdiction=jurisdiction,
            days=found.days if found is not None else None,
            mode=mode,
            source=found.source if found is not None else "no pack in the chain sets a period: kept",
            origin=found.origin if found is not None else None,
            overridden_by=None if found is None or found.shipped else found.origin,
            covers=covered,
            required_days=found.days if found is not None and found.required else None,
        )
    for key, days in (overrides or {}).items():
        _check_days(key, days)
        jurisdiction = GLOBAL if key == DEFAULT_KEY else key
        row = rows.get(jurisdiction)
        if row is None:
            # A code given its own period still answers to its pack's regulation (PR → US).
            pack = policies.plan_for(jurisdiction).retention
            rows[jurisdiction] = RetentionRule(
                jurisdiction=jurisdiction, days=days, mode=mode, source=OVERRIDE_SETTING,
                overridden_by=OVERRIDE_SETTING,
                required_days=pack.days if pack is not None and pack.required else None,
            )
        else:
            was = f"{row.days} days" if row.days is not None else "no period"
            rows[jurisdiction] = row.model_copy(
                update={"days": days, "overridden_by": f"{OVERRIDE_SETTING} (pack: {was})"}
            )
    # A code given its own period by an override is no longer covered by its pack's.
    for jurisdiction, row in rows.items():
        rows[jurisdiction] = row.model_copy(update={"covers": [c for c in row.covers if c not in rows]})
    named: dict[str, int] = {}
    for row in rows.values():
        if row.days is None:
            continue
        named[DEFAULT_KEY if row.jurisdiction == GLOBAL else row.jurisdiction] = row.days
        if row.jurisdiction == GLOBAL:
            named[GLOBAL] = row.days
        for code in row.covers:
            named[code] = row.days
    ordered = sorted(rows.values(), key=lambda r: (r.jurisdiction != GLOBAL, r.jurisdiction))
    return RetentionPolicy(days=named, mode=mode), ordered


def _check_days(jurisdiction: str, n: int) -> None:
    if not 0 <= n <= MAX_DAYS:
        raise RetentionError(
            f"retention for {jurisdiction!r} is {n} days: use 0 to {MAX_DAYS} ({OVERRIDE_SETTING})"
        )


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
