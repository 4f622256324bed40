"""Which rules a post would match in its jurisdiction, and why: the one explanation behind
``veille policies explain`` and the console's "try a text".

It detects exactly as the pipeline does (:func:`policies.engine.detect`, gated, cheapest detector
first) and evaluates the plan's rules with :meth:`Plan.explain`, so what it says is what a worker
would raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.base import Detector, Finding
from policies.compiler import Plan
from policies.engine import detect
from policies.loader import PolicySet
from policies.post import Post


@dataclass(frozen=True)
class RuleOutcome:
    """One rule of the plan that matched, or would have matched but for an exception."""

    rule_id: str
    title: str
    severity: str
    maturity: str
    pack: str  # the pack that defines the rule
    shadow: bool  # incubating: evaluated, no alert
    suppressed_by: str | None  # the exception that stopped it; None when it matched
    clauses: tuple[str, ...]
    findings: tuple[Finding, ...]
    remediation: str | None
    references: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    plan: Plan
    detectors_skipped: frozenset[str]  # in the plan, but no rule needed them for this post
    findings: tuple[Finding, ...]
    outcomes: tuple[RuleOutcome, ...]

    @property
    def matched(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.suppressed_by is None)


def explain_post(policies: PolicySet, detectors: Sequence[Detector], post: Post) -> Explanation:
    """Detect on ``post`` with its jurisdiction's plan and say which rules match (in plan order)."""
    plan = policies.plan_for(post.jurisdiction)
    findings, skipped = detect(plan, [post], detectors)
    outcomes = []
    for rule, hit, suppressed in plan.explain(post, findings[0]):
        if hit is None and suppressed is None:
            continue
        spec = rule.spec
        outcomes.append(
            RuleOutcome(
                rule_id=rule.id,
                title=spec.title,
                severity=spec.severity,
                maturity=spec.maturity,
                pack=rule.pack,
                shadow=rule.shadow,
                suppressed_by=suppressed if hit is None else None,
                clauses=hit.clauses if hit is not None else (),
                findings=hit.findings if hit is not None else (),
                remediation=spec.remediation,
                references=tuple(spec.references),
            )
        )
    return Explanation(plan, frozenset(skipped[0]), tuple(findings[0]), tuple(outcomes))
