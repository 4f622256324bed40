"""What a policy change would do, before it goes live: the active packs and a draft over the same posts.

Both sides detect through the one detection engine (``policies.engine.detect``) and decide through
their compiled plans, exactly as the run loop does; only the outcome is kept per post, never the text.
A rule "alerts" on a post when it hits and is not in shadow (incubating) on that side; shadow hits
are counted apart, so a rule moving from incubating to stable shows the alerts it will start to raise.

The report's JSON form (``BacktestReport.as_json``, schema ``BACKTEST_SCHEMA``) is a contract for CI:
extend it with new keys, never change these.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Detector
from policies.engine import detect
from policies.loader import PolicySet
from policies.post import Post

BATCH = 500
Verdicts = Mapping[str, Mapping[str, int]]  # rule id → verdict → closed alerts


def _default_jurisdiction(post: Post) -> str:
    return post.jurisdiction or post.author.country or "GLOBAL"


@dataclass
class RuleDelta:
    rule_id: str
    active: int = 0  # posts it alerts on under the active packs
    draft: int = 0
    active_shadow: int = 0  # posts it hits in shadow mode (incubating)
    draft_shadow: int = 0
    gained: list[str] = field(default_factory=list)  # post ids alerted under the draft only
    lost: list[str] = field(default_factory=list)
    verdicts: Mapping[str, int] | None = None  # reviewers' past verdicts on the rule's alerts

    @property
    def closed(self) -> int:
        return sum(self.verdicts.values()) if self.verdicts else 0

    @property
    def precision(self) -> float | None:
        """True positives among closed alerts with a verdict; None without any."""
        if not self.verdicts or not self.closed:
            return None
        return self.verdicts.get("true_positive", 0) / self.closed


@dataclass
class BacktestReport:
    active_version: str
    draft_version: str
    posts: int = 0
    rules: dict[str, RuleDelta] = field(default_factory=dict)
    posts_gaining: list[str] = field(default_factory=list)  # posts with an alert under the draft only
    posts_losing: list[str] = field(default_factory=list)
    skipped: int = 0  # records of the source that were not valid posts (set by the reader's owner)

    def rule(self, rule_id: str) -> RuleDelta:
        delta = self.rules.get(rule_id)
        if delta is None:
            delta = self.rules[rule_id] = RuleDelta(rule_id)
        return delta

    def sorted_rules(self) -> list[RuleDelta]:
        """Biggest changes first, then by id: what a reviewer signing off reads first."""
        return sorted(self.rules.values(), key=lambda r: (-abs(r.draft - r.active), r.rule_id))

    def as_json(self, show: int) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "active_version": self.active_version,
            "draft_version": self.draft_version,
            "posts_gaining_an_alert": len(self.posts_gaining),
            "posts_losing_an_alert": len(self.posts_losing),
            "skipped_records": self.skipped,
            "rules": [
                {
                    "rule_id": r.rule_id,
                    "active_alerts": r.active,
                    "draft_alerts": r.draft,
                    "active_shadow_hits": r.active_shadow,
                    "draft_shadow_hits": r.draft_shadow,
                    "gained": len(r.gained),
                    "lost": len(r.lost),
                    "gained_post_ids": r.gained[:show],
                    "lost_post_ids": r.lost[:show],
                    "reviewed": r.closed,
                    "expected_precision": None if r.precision is None else round(r.precision, 4),
                    "verdicts": dict(r.verdicts) if r.verdicts else {},
                }
                for r in self.sorted_rules()
            ],
        }


def _outcomes(
    policies: PolicySet,
    posts: Sequence[Post],
    detectors: Sequence[Detector],
    jurisdiction_of: Callable[[Post], str],
) -> list[tuple[set[str], set[str]]]:
    """Per post: the rules that alert and the rules that hit in shadow, under ``policies``."""
    groups: dict[str, list[int]] = defaultdict(list)
    plans = {}
    for index, post in enumerate(posts):
        plan = policies.plan_for(jurisdiction_of(post))
        plans[plan.jurisdiction] = plan
        groups[plan.jurisdiction].append(index)
    out: list[tuple[set[str], set[str]]] = [(set(), set()) for _ in posts]
    for key, indexes in groups.items():
        plan = plans[key]
        found, _ = detect(plan, [posts[i] for i in indexes], detectors)
        for i, findings in zip(indexes, found, strict=True):
            for hit in plan.evaluate(posts[i], findings):
                out[i][1 if hit.shadow else 0].add(hit.rule_id)
    return out


def backtest(
    active: PolicySet,
    draft: PolicySet,
    posts: Iterable[Post],
    detectors: Sequence[Detector],
    *,
    jurisdiction_of: Callable[[Post], str] = _default_jurisdiction,
    verdicts: Verdicts | None = None,
    batch: int = BATCH,
) -> BacktestReport:
    """Run both policy sets over ``posts`` (consumed once, in batches) and compare their alerts."""
    report = BacktestReport(active.version, draft.version)
    for _, rule in active.rules():
        report.rule(rule.id)
    for _, rule in draft.rules():
        report.rule(rule.id)
    pending: list[Post] = []

    def flush() -> None:
        before = _outcomes(active, pending, detectors, jurisdiction_of)
        after = _outcomes(draft, pending, detectors, jurisdiction_of)
        for post, (old, old_shadow), (new, new_shadow) in zip(pending, before, after, strict=True):
            report.posts += 1
            for rule_id in old:
                report.rule(rule_id).active += 1
            for rule_id in new:
                report.rule(rule_id).draft += 1
            for rule_id in old_shadow:
                report.rule(rule_id).active_shadow += 1
            for rule_id in new_shadow:
                report.rule(rule_id).draft_shadow += 1
            for rule_id in new - old:
                report.rule(rule_id).gained.append(post.id)
            for rule_id in old - new:
                report.rule(rule_id).lost.append(post.id)
            if new and not old:
                report.posts_gaining.append(post.id)
            if old and not new:
                report.posts_losing.append(post.id)
        pending.clear()

    for post in posts:
        pending.append(post)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    for rule_id, counts in (verdicts or {}).items():
        if rule_id in report.rules:
            report.rules[rule_id].verdicts = counts
    return report


_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_IDS: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "description": "capped by --show"}

BACKTEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "veille policies backtest --json",
    "type": "object",
    "required": [
        "posts", "active_version", "draft_version", "posts_gaining_an_alert", "posts_losing_an_alert",
        "skipped_records", "rules",
    ],
    "properties": {
        "posts": {"type": "integer", "minimum": 0, "description": "posts run through both sides"},
        "active_version": {"type": "string", "description": "policy version of the active packs"},
        "draft_version": {"type": "string", "description": "policy version of the draft"},
        "posts_gaining_an_alert": {"type": "integer", "minimum": 0},
        "posts_losing_an_alert": {"type": "integer", "minimum": 0},
        "skipped_records": {"type": "integer", "minimum": 0, "description": "records that were not posts"},
        "rules": {
            "type": "array",
            "description": "every rule of either side, biggest change first",
            "items": {
                "type": "object",
                "required": [
                    "rule_id", "active_alerts", "draft_alerts", "active_shadow_hits", "draft_shadow_hits",
                    "gained", "lost", "gained_post_ids", "lost_post_ids", "reviewed", "expected_precision",
                    "verdicts",
                ],
                "properties": {
                    "rule_id": {"type": "string"},
                    "active_alerts": _COUNT,
                    "draft_alerts": _COUNT,
                    "active_shadow_hits": _COUNT,
                    "draft_shadow_hits": _COUNT,
                    "gained": {**_COUNT, "description": "posts alerted by the draft only"},
                    "lost": {**_COUNT, "description": "posts alerted by the active only"},
                    "gained_post_ids": _IDS,
                    "lost_post_ids": _IDS,
                    "reviewed": {**_COUNT, "description": "closed alerts with a verdict"},
                    "expected_precision": {
                        "type": ["number", "null"],
                        "description": "true positives / reviewed; null when no verdict exists",
                    },
                    "verdicts": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
        },
    },
}
