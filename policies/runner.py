"""Run every rule's own tests through the real detectors and the detection engine, exactly as the
pipeline detects (cheap detectors first, a detector only on the posts some rule still needs it for)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detectors.base import Detector, Finding
from policies.compiler import CompiledRule, Plan
from policies.engine import detect
from policies.loader import PolicySet
from policies.post import Author, Post, Source
from policies.schema import TestPost


def make_post(
    text: str,
    *,
    jurisdiction: str,
    source: str = "external",
    channel: str | None = None,
    role: str = "employee",
    is_employee: bool = True,
    lang: str | None = None,
    post_id: str = "policy-test",
) -> Post:
    return Post(
        id=post_id,
        source=Source(source),
        channel=channel or ("x" if source == "external" else "teams"),
        author=Author(id="policy-test-author", role=role, is_employee=is_employee),
        text=text,
        lang=lang,
        jurisdiction=jurisdiction,
    )


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    origin: str  # file:line of the rule
    kind: str  # "match" or "no_match"
    index: int
    jurisdiction: str
    passed: bool
    detail: str  # what went wrong, or the clauses that matched

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.index}]"


def _post_for(rule: CompiledRule, plan: Plan, case: TestPost, kind: str, index: int) -> Post:
    sources = rule.spec.sources
    source = case.source or ("external" if "external" in sources else sources[0])
    return make_post(
        case.text,
        jurisdiction=case.jurisdiction or plan.jurisdiction,
        source=source,
        channel=case.channel,
        role=case.role or "employee",
        is_employee=True if case.is_employee is None else case.is_employee,
        lang=case.lang,
        post_id=f"test:{rule.id}:{kind}:{index}",
    )


def run_rule_tests(
    policies: PolicySet, detectors: Sequence[Detector], rule_ids: Iterable[str] | None = None
) -> list[CaseResult]:
    """Every (selected) rule's match / no_match posts, batched per plan through the real detectors."""
    wanted = set(rule_ids) if rule_ids else None
    batches: dict[str, list[tuple[CompiledRule, str, int, Post]]] = defaultdict(list)
    results: list[CaseResult] = []
    order: dict[str, int] = {}
    for home, rule in policies.rules():
        order[rule.id] = len(order)
        if wanted is not None and rule.id not in wanted:
            continue
        for kind, cases in (("match", rule.spec.tests.match), ("no_match", rule.spec.tests.no_match)):
            for index, case in enumerate(cases):
                post = _post_for(rule, home, case, kind, index)
                plan = policies.plan_for(post.jurisdiction)
                if not any(r.id == rule.id for r in plan.rules):
                    reason = plan.disabled.get(rule.id)
                    results.append(
                        CaseResult(
                            rule.id,
                            rule.origin,
                            kind,
                            index,
                            plan.jurisdiction,
                            False,
                            f"rule is not in the {plan.jurisdiction} plan"
                            + (f" (disabled: {reason})" if reason else ""),
                        )
                    )
                    continue
                batches[plan.jurisdiction].append((rule, kind, index, post))
    for jurisdiction, batch in batches.items():
        plan = policies.plans[jurisdiction]
        posts = [post for _, _, _, post in batch]
        findings, _ = detect(plan, posts, detectors)
        for (rule, kind, index, post), post_findings in zip(batch, findings, strict=True):
            hits = {hit.rule_id: hit for hit in plan.evaluate(post, post_findings)}
            hit = hits.get(rule.id)
            if kind == "match":
                passed = hit is not None
                detail = "; ".join(hit.clauses) if hit else _miss_detail(post_findings)
            else:
                passed = hit is None
                detail = "" if hit is None else "matched: " + "; ".join(hit.clauses)
            results.append(
                CaseResult(
                    rule.id,
                    rule.origin,
                    kind,
                    index,
                    jurisdiction,
                    passed,
                    detail,
                )
            )
    results.sort(key=lambda r: (order[r.rule_id], r.kind, r.index))
    return results


def _miss_detail(findings: Sequence[Finding]) -> str:
    if not findings:
        return "no match; the detectors found nothing"
    kinds = sorted({f"{f.detector}:{f.type}" for f in findings})
    return "no match; found " + ", ".join(kinds)


def run_personal_tests(policies: PolicySet) -> list[CaseResult]:
    """Each pack's ``personal.tests``: a ``skip`` post must be left unanalysed in its jurisdiction (the
    pack's own unless the case names one), an ``analyse`` post must reach the detectors. Reported as
    cases of the pseudo-rule ``personal:<pack>``."""
    results = []
    for home in policies.plans.values():
        for kind, index, origin, case in home.personal.tests:
            post = make_post(
                case.text,
                jurisdiction=case.jurisdiction or home.jurisdiction,
                source=case.source or "internal",
                channel=case.channel,
                role=case.role or "employee",
                is_employee=True if case.is_employee is None else case.is_employee,
                lang=case.lang,
                post_id=f"test:personal:{home.pack}:{kind}:{index}",
            ).model_copy(update={"metadata": dict(case.metadata)})
            plan = policies.plan_for(post.jurisdiction)
            marker = plan.personal.marker(post)
            skipped = plan.personal.skips(post)
            if kind == "skip":
                detail = f"marked by {marker}" if skipped else (
                    f"no personal marker found in {plan.jurisdiction}" if marker is None
                    else f"marked by {marker}, but {plan.jurisdiction} analyses personal posts"
                )
            else:
                detail = "analysed" if not skipped else f"skipped: marked by {marker}"
            passed = skipped if kind == "skip" else not skipped
            results.append(
                CaseResult(f"personal:{home.pack}", origin, kind, index, plan.jurisdiction, passed, detail)
            )
    return results
