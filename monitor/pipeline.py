"""One batch of posts in, findings, rule hits and alerts out. Shared by `veille run` and `veille scan`.

Knows nothing of Kafka: the run loop decodes records and hands posts here; the scan command reads
them from a file. Both therefore find exactly the same things.

Personal posts (``policies.personal``) of a jurisdiction whose pack skips them are counted and dropped
here, before any detector: ``process`` returns no result for them, so nothing downstream (alerts,
e-reputation windows, the sampling of posts that raised no alert, scan output) ever sees them, and
the run loop still commits their offsets with the rest of the batch.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.evidence import EvidenceLimits, build_evidence, is_sensitive
from alerts.model import Alert, Severity, alert_id
from alerts.privacy import minimise
from alerts.sampling import DEMO_SEED, drawn, sample_alert
from detectors.base import Detector, DetectorPlan, Finding
from detectors.catalogue import NER_ENTITIES, PATTERN_PII_ENTITIES, PATTERN_TYPES
from detectors.registry import build_detectors, full_plan, make_plan
from monitor.jurisdiction import resolve_jurisdiction
from monitor.metrics import Metrics
from monitor.settings import Settings
from monitor.traffic import generate_posts
from policies import Plan, PolicySet, RuleHit, load_policy_set
from policies.engine import detect
from policies.post import Post

WARM_UP_POSTS = 300
log = logging.getLogger(__name__)


@dataclass
class PostResult:
    post: Post
    jurisdiction: str
    findings: list[Finding] = field(default_factory=list)
    hits: list[RuleHit] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class Pipeline:
    """Detectors and compiled policy plans, ready to process batches.

    ``detect_all`` runs every detector and entity on every post whatever the plans say (audits and
    evaluation); otherwise each post gets only what its jurisdiction's rules need, and an expensive
    detector runs only on the posts where some rule can still match once it has run.
    """

    def __init__(
        self,
        policies: PolicySet,
        detectors: Sequence[Detector],
        *,
        channel_jurisdictions: Mapping[str, str] | None = None,
        default_jurisdiction: str = "GLOBAL",
        detect_all: bool = False,
        metrics: Metrics | None = None,
        evidence_limits: EvidenceLimits | None = None,
        pseudonym_key: bytes | None = None,
        sampling_seed: bytes | None = None,
        sampling: bool = True,
    ) -> None:
        self.detectors = list(detectors)
        self.pseudonym_key = pseudonym_key
        self.sampling_seed = sampling_seed if sampling_seed is not None else DEMO_SEED.encode()
        # Off for `veille scan`: a draw for the review queue is no finding, and its output is a contract.
        self.sampling = sampling
        self.evidence_limits = evidence_limits or EvidenceLimits()
        self.detect_all = detect_all
        self.metrics = metrics
        self._channel_jurisdictions = dict(channel_jurisdictions or {})
        self._default_jurisdiction = default_jurisdiction
        self._full_plans: dict[str, DetectorPlan] = {}
        self._mask_plans: dict[str, DetectorPlan] = {}
        self.policies = policies
        # Personal posts skipped per pack jurisdiction, since start (`veille scan` reports it).
        self.personal_skipped: Counter[str] = Counter()

    @property
    def policies(self) -> PolicySet:
        return self._policies

    @policies.setter
    def policies(self, policies: PolicySet) -> None:
        """Swap packs between batches (hot reload): a batch always sees one consistent version."""
        self._policies = policies
        self._full_plans = {}
        self._mask_plans = {}

    @property
    def policy_version(self) -> str:
        return self._policies.version

    def metric_jurisdiction(self, jurisdiction: str) -> str:
        """The pack a jurisdiction maps to: a bounded metric label, unlike the post's own country."""
        return self._policies.plan_for(jurisdiction).jurisdiction

    def _detector_plan(self, plan: Plan) -> DetectorPlan:
        if not self.detect_all:
            return plan.detector_plan
        cached = self._full_plans.get(plan.jurisdiction)
        if cached is None:
            cached = full_plan(plan.jurisdiction, plan.detector_plan.lexicon_lists)
            self._full_plans[plan.jurisdiction] = cached
        return cached

    def process(
        self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None
    ) -> list[PostResult]:
        policies = self._policies
        results: list[PostResult] = []
        kept: list[int] = []
        for index, post in enumerate(posts):
            jurisdiction = resolve_jurisdiction(post, self._channel_jurisdictions, self._default_jurisdiction)
            plan = policies.plan_for(jurisdiction)
            if plan.personal.skips(post):
                self._count_personal(plan.jurisdiction)
                continue
            results.append(PostResult(post, jurisdiction))
            kept.append(index)
        if origins is not None and len(kept) != len(posts):
            origins = [origins[i] for i in kept]
        groups: dict[str, list[int]] = defaultdict(list)
        plans: dict[str, Plan] = {}
        for index, result in enumerate(results):
            plan = policies.plan_for(result.jurisdiction)
            plans[plan.jurisdiction] = plan
            groups[plan.jurisdiction].append(index)

        on_timing = self._observe_detector if self.metrics is not None else None
        for plan_key, indexes in groups.items():
            plan = plans[plan_key]
            found, _skipped = detect(
                plan,
                [results[i].post for i in indexes],
                self.detectors,
                detector_plan=self._detector_plan(plan),
                gated=not self.detect_all,
                on_timing=on_timing,
            )
            for i, post_findings in zip(indexes, found, strict=True):
                results[i].findings = post_findings

        drawn_posts: dict[str, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
        for plan_key, indexes in groups.items():
            plan = plans[plan_key]
            for i in indexes:
                result = results[i]
                result.hits = plan.evaluate(result.post, result.findings)
                population = plan.population_for(result.post, result.jurisdiction)
                origin = dict(origins[i]) if origins is not None else {}
                if result.post.url:
                    origin.setdefault("url", result.post.url)
                # A reviewer asks for the rest of the thread by these ids (set by `veille ingest`).
                for key in ("thread_id", "reply_to"):
                    if result.post.metadata.get(key):
                        origin.setdefault(key, result.post.metadata[key])
                for hit in result.hits:
                    if self.metrics is not None:
                        mode = "shadow" if hit.shadow else "alert"
                        self.metrics.rule_hits.labels(hit.rule_id, plan.jurisdiction, mode).inc()
                    if not hit.shadow:
                        alert = self._alert(result, plan, hit, policies.version, origin)
                        if population is not None:
                            alert = alert.model_copy(update={"population": population.name})
                        result.alerts.append(alert)
                # Only the posts that raised no alert are sampled: the others are reviewed anyway.
                if (self.sampling and population is not None and not result.alerts
                        and drawn(self.sampling_seed, result.post.id, population.percent)):
                    drawn_posts[plan_key].append((i, population.name, origin))
        for plan_key, chosen in drawn_posts.items():
            self._add_samples(plans[plan_key], [(results[i], name, origin) for i, name, origin in chosen],
                              policies.version)
        return results

    def _add_samples(
        self, plan: Plan, chosen: Sequence[tuple[PostResult, str, dict[str, Any]]], policy_version: str
    ) -> None:
        """Sample items for the drawn posts of one plan, their personal data found and masked first.

        The plan's own detection ran only what its rules needed: the drawn posts (a few percent) go
        through every pattern recognizer and secret pattern, and NER where the plan loads it anyway.
        """
        masking, _ = detect(plan, [result.post for result, _, _ in chosen], self.detectors,
                            detector_plan=self._mask_plan(plan), gated=False)
        for (result, population, origin), found in zip(chosen, masking, strict=True):
            sensitive = [f for f in (*result.findings, *found) if is_sensitive(f)]
            result.alerts.append(sample_alert(
                result.post, jurisdiction=result.jurisdiction, population=population,
                policy_version=policy_version, findings=sensitive, origin=origin, limits=self.evidence_limits,
            ))

    def _mask_plan(self, plan: Plan) -> DetectorPlan:
        cached = self._mask_plans.get(plan.jurisdiction)
        if cached is None:
            ner = plan.detector_plan.pii_entities & NER_ENTITIES
            cached = make_plan(plan.jurisdiction, pii_entities=PATTERN_PII_ENTITIES | ner,
                               patterns=PATTERN_TYPES)
            self._mask_plans[plan.jurisdiction] = cached
        return cached

    def warm_up(self) -> None:
        """Run generated posts of every kind and jurisdiction once, outside any metric.

        Models load lazily (lingua's n-gram models, Presidio's recognizers per language): seconds that
        would otherwise fall in the first batches, with partitions held and posts waiting behind them.
        """
        # Half of them without a declared language, so that language detection loads its models too.
        posts = [post.model_copy(update={"lang": None}) if index % 2 else post
                 for index, post in enumerate(generate_posts(WARM_UP_POSTS, seed=0))]
        metrics, self.metrics = self.metrics, None
        try:
            self.process(posts)
        finally:
            self.metrics = metrics

    def _count_personal(self, jurisdiction: str) -> None:
        self.personal_skipped[jurisdiction] += 1
        if self.metrics is not None:
            self.metrics.posts_personal_skipped.labels(jurisdiction).inc()

    def _observe_detector(self, detector: str, seconds: float) -> None:
        assert self.metrics is not None
        self.metrics.detector_seconds.labels(detector).observe(seconds)

    def _alert(
        self, result: PostResult, plan: Plan, hit: RuleHit, policy_version: str, origin: dict[str, Any]
    ) -> Alert:
        post = result.post
        alert = Alert(
            id=alert_id(post.id, hit.rule_id),
            rule_id=hit.rule_id,
            rule_title=hit.title,
            severity=Severity(hit.severity),
            jurisdiction=result.jurisdiction,
            source=post.source.value,
            channel=post.channel,
            post_id=post.id,
            author_id=post.author.id,
            author_role=post.author.role,
            lang=post.lang,
            post_created_at=post.created_at,
            policy_version=policy_version,
            evidence=build_evidence(post.text, hit.findings, result.findings, self.evidence_limits),
            evidence_total=len(hit.findings),
            explanation=list(hit.clauses),
            remediation=hit.remediation,
            references=list(hit.references),
            origin=origin,
            comms_visible=hit.for_communications,
            four_eyes=hit.four_eyes,
            purpose=hit.purpose,
            author_pseudonymised=plan.pseudonymise_authors,
        )
        # Only what the rule's purpose needs is ever stored (alerts.privacy.MINIMISATION).
        return minimise(alert, self.pseudonym_key)


def build_pipeline(
    settings: Settings,
    *,
    detect_all: bool = False,
    metrics: Metrics | None = None,
    policies: PolicySet | None = None,
    sampling: bool = True,
) -> Pipeline:
    policies = policies if policies is not None else load_policy_set(settings.policies_dir)
    if sampling and settings.sampling_seed is None and any(
        population.percent > 0 for plan in policies.plans.values() for population in plan.sampling
    ):
        log.warning("sampling with the public demo seed: authors could predict which posts are drawn; "
                    "set VEILLE_SAMPLING_SEED")
    return Pipeline(
        policies,
        build_detectors(settings.detector_config()),
        channel_jurisdictions=settings.channel_jurisdictions,
        default_jurisdiction=settings.default_jurisdiction,
        detect_all=detect_all,
        metrics=metrics,
        evidence_limits=EvidenceLimits(settings.evidence_max_spans, settings.evidence_max_bytes),
        pseudonym_key=_pseudonym_key(settings),
        sampling_seed=sampling_seed(settings),
        sampling=sampling,
    )


def _pseudonym_key(settings: Settings) -> bytes:
    if settings.pseudonym_key is not None:
        return settings.pseudonym_key.get_secret_value().encode()
    log.warning("VEILLE_PSEUDONYM_KEY is not set: reputation alerts' author pseudonyms change at restart")
    return secrets.token_bytes(32)


def sampling_seed(settings: Settings) -> bytes | None:
    """The configured sampling key; None (the public demo seed) when unset."""
    if settings.sampling_seed is None:
        return None
    return settings.sampling_seed.get_secret_value().encode()
