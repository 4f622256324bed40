"""The policy packs as the console shows them, and "try a text": what a post would match, and why.

"Try a text" runs :func:`policies.explain.explain_post`, the explanation behind
``veille policies explain``: the same detectors, gating and rules as a worker, never a second
detection path. The packs are the app's own policy set when it was given one, else loaded once, on
first use: a broken organisation pack then answers 503 on these routes instead of keeping the whole
API from starting. Detectors are built once too; their models load on the first text tried.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import Detector, Finding
from detectors.config import DetectorConfig
from detectors.registry import build_detectors
from policies import PolicyError, PolicySet, load_policy_set
from policies.explain import explain_post
from policies.post import JURISDICTION_PATTERN, Source
from policies.runner import make_post
from policies.schema import Severity, TestPost

log = logging.getLogger(__name__)

MAX_TRY_CHARS = 10_000


class RuleTests(BaseModel):
    match: list[TestPost]
    no_match: list[TestPost]


class RuleInfo(BaseModel):
    id: str
    title: str
    description: str
    severity: Severity
    maturity: str
    sources: list[str]
    tags: list[str]
    pack: str = Field(description="the pack that defines the rule")
    origin: str = Field(description="file:line of the rule")
    when: dict[str, Any] = Field(description="the condition tree, as written in the pack")
    exceptions: list[dict[str, Any]] = Field(description="named conditions that suppress a match")
    references: list[str]
    remediation: str | None = None
    tests: RuleTests


class JurisdictionInfo(BaseModel):
    jurisdiction: str
    pack: str
    inherits: list[str] = Field(description="the pack and the packs it extends, nearest first")
    covers: list[str] = Field(description="other codes this pack applies to")
    detectors: list[str]
    rules: list[str] = Field(description="ids of the rules in force, inherited ones included")
    disabled: dict[str, str] = Field(description="inherited rule id → why this pack disables it")


class PolicyCatalog(BaseModel):
    version: str
    files: list[str]
    jurisdictions: list[JurisdictionInfo]
    rules: list[RuleInfo]


class TryRequest(BaseModel):
    """A post to try: only its text and the few fields rules look at."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "Mon NIR est 1 85 05 78 006 084 91", "jurisdiction": "FR", "source": "internal"}
            ]
        },
    )

    text: str = Field(min_length=1, max_length=MAX_TRY_CHARS)
    jurisdiction: str = Field(
        default="GLOBAL", pattern=JURISDICTION_PATTERN, description="e.g. FR, GB, GLOBAL"
    )
    source: Source = Source.EXTERNAL
    channel: str | None = Field(default=None, min_length=1, max_length=64, description="e.g. teams, x")
    role: str = Field(default="employee", min_length=1, max_length=64, description="the author's role")
    is_employee: bool = True
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$", description="ISO 639-1; detected when null")

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class MatchedSpan(BaseModel):
    detector: str
    type: str
    start: int
    end: int
    score: float
    recognizer: str
    text: str = Field(description="the characters of the submitted text it covers")


class TriedRule(BaseModel):
    rule_id: str
    title: str
    severity: Severity
    maturity: str
    pack: str
    shadow: bool = Field(description="incubating: counted, but raises no alert")
    suppressed_by: str | None = Field(description="the exception that stopped it; null when it matched")
    clauses: list[str] = Field(description="why it matched, in words")
    spans: list[MatchedSpan]
    remediation: str | None
    references: list[str]


class TryResult(BaseModel):
    jurisdiction: str = Field(description="as asked")
    plan_jurisdiction: str = Field(description="the pack's jurisdiction that applies to it")
    pack: str
    inherits: list[str]
    policy_version: str
    detectors: list[str] = Field(description="detectors in the plan")
    detectors_skipped: list[str] = Field(description="in the plan, but no rule needed them for this text")
    findings: list[MatchedSpan] = Field(description="everything the detectors found")
    rules: list[TriedRule] = Field(description="rules that match or were suppressed, in plan order")


class PolicyCatalogue:
    """The app's policy set and detectors, built once and shared by every request."""

    def __init__(
        self, policies: PolicySet | None, policies_dir: Path | None, detector_config: DetectorConfig
    ) -> None:
        self._policies = policies
        self._policies_dir = policies_dir
        self._detector_config = detector_config
        self._detectors: list[Detector] | None = None
        # Detectors load their models lazily and are not known to be thread-safe: one try at a time.
        self._lock = threading.Lock()

    def policy_set(self) -> PolicySet:
        with self._lock:
            if self._policies is None:
                try:
                    self._policies = load_policy_set(self._policies_dir)
                except PolicyError as exc:
                    log.warning("policy packs did not load: %d error(s)", len(exc.errors))
                    raise HTTPException(
                        status_code=503,
                        detail=f"the policy packs did not load ({len(exc.errors)} error(s)): "
                        "run `veille policies check` on the server",
                    ) from None
            return self._policies

    def catalog(self) -> PolicyCatalog:
        policies = self.policy_set()
        jurisdictions = [
            JurisdictionInfo(
                jurisdiction=plan.jurisdiction,
                pack=plan.pack,
                inherits=list(policies.chain(plan)),
                covers=sorted(code for code, to in policies.covers.items() if to == plan.jurisdiction),
                detectors=sorted(plan.detector_plan.detectors),
                rules=[rule.id for rule in plan.rules],
                disabled=dict(plan.disabled),
            )
            for plan in policies.plans.values()
        ]
        # RuleInfo declares the pack's own fields under the same names: the spec as written, plus where.
        rules = [
            RuleInfo(
                **rule.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                pack=rule.pack,
                origin=rule.origin,
            )
            for _, rule in policies.rules()
        ]
        return PolicyCatalog(
            version=policies.version, files=list(policies.files), jurisdictions=jurisdictions, rules=rules
        )

    def try_text(self, request: TryRequest) -> TryResult:
        policies = self.policy_set()
        post = make_post(
            request.text,
            jurisdiction=request.jurisdiction,
            source=request.source.value,
            channel=request.channel,
            role=request.role,
            is_employee=request.is_employee,
            lang=request.lang,
            post_id="console-try",
        )
        with self._lock:
            if self._detectors is None:
                self._detectors = build_detectors(self._detector_config)
            result = explain_post(policies, self._detectors, post)
        plan = result.plan
        return TryResult(
            jurisdiction=request.jurisdiction,
            plan_jurisdiction=plan.jurisdiction,
            pack=plan.pack,
            inherits=list(policies.chain(plan)),
            policy_version=policies.version,
            detectors=sorted(plan.detector_plan.detectors),
            detectors_skipped=sorted(result.detectors_skipped),
            findings=_spans(request.text, result.findings),
            rules=[
                TriedRule(
                    **{k: v for k, v in vars(o).items() if k != "findings"},
                    spans=_spans(request.text, o.findings),
                )
                for o in result.outcomes
            ],
        )


def _spans(text: str, findings: Sequence[Finding]) -> list[MatchedSpan]:
    return [
        MatchedSpan(
            detector=f.detector,
            type=f.type,
            start=f.start,
            end=f.end,
            score=round(f.score, 4),
            recognizer=f.recognizer,
            text=text[f.start : f.end],
        )
        for f in findings
    ]
