"""Requests of a data subject (GDPR art. 15 access, art. 17 erasure), pure rules: what may be erased.

Everything about a person is found by their author id (and its pseudonym, under which reputation
alerts store them, ``alerts.privacy``): the alerts and samples (samples are alert rows), their
comments and the audit entries that concern them. Erasure anonymises an alert exactly as retention
does (``alerts.retention.anonymised_values``) unless one of art. 17(3)'s exceptions applies:

- a legal hold (a case under hold: legal claims, art. 17(3)(e));
- a regulatory retention still running (a legal obligation, art. 17(3)(b)): the jurisdictions whose
  retention comes from a regulation (SEC 17a-4 for US, FCA SYSC 10A for GB) keep their records for
  the regulation's period from the post's date.

The audit chain itself is never rewritten: its entries name reviewers and alert ids, never the
author, and editing one would break the chain that proves what happened to the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.model import Alert

ACTION_ERASE = "subject.erase"
ACTION_ERASE_REFUSED = "subject.erase_refused"
ACTION_REQUEST = "subject.request"

# (days, source) of the regulation whose retention applies to a jurisdiction's alerts, or None.
Regime = Callable[[str], "tuple[int, str] | None"]


@dataclass(frozen=True)
class Decision:
    alert_id: str
    erase: bool
    reason: str


def decide(alerts: Sequence[Alert], held: set[str], regime: Regime, now: datetime) -> list[Decision]:
    """For each alert, whether an erasure request may anonymise it, and why (or why not)."""
    out = []
    for alert in alerts:
        if alert.anonymised_at is not None:
            out.append(Decision(alert.id, False, "already anonymised"))
            continue
        if alert.id in held:
            out.append(Decision(alert.id, False, "under legal hold (GDPR art. 17(3)(e))"))
            continue
        rule = regime(alert.jurisdiction)
        if rule is not None:
            days, source = rule
            until = alert.post_created_at + timedelta(days=days)
            if now < until:
                out.append(Decision(
                    alert.id, False,
                    f"regulatory retention until {until.date().isoformat()}: {source} (GDPR art. 17(3)(b))",
                ))
                continue
        out.append(Decision(alert.id, True, "no legal hold or regulatory retention applies"))
    return out
