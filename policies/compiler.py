"""A pack's rules compiled once into a Plan: each rule's conditions, and exactly the detector work
they need.

Conditions evaluate to true, false or unknown (``policies.predicates``), so a rule's outcome is often
decided by cheap predicates alone (wrong source, no lexicon phrase) and the costly NER detector can
be skipped for that post (``Plan.needs``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from detectors.base import DetectorPlan, Finding
from policies.names import DETECTORS
from policies.personal import PersonalMarkers
from policies.post import Post
from policies.predicates import Context, Node, Outcome, Tri, compile_condition
from policies.sampling import Population, population_for
from policies.schema import COMMUNICATIONS, Condition, RuleSpec


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    title: str
    severity: str
    maturity: str
    shadow: bool  # incubating rules: evaluated and counted, no alert
    clauses: tuple[str, ...]  # why, in words: "lexicon confidentiality_markers: 'do not forward'"
    findings: tuple[Finding, ...]  # the spans that satisfied the clauses (evidence)
    remediation: str | None
    references: tuple[str, ...]
    audience: tuple[str, ...]  # pack key `audience:`: decides who sees the alert
    four_eyes: bool = False  # pack key `four_eyes:`: closing needs a second reviewer (alerts.levels)
    purpose: str | None = None  # pack key `purpose:`: decides what the alert keeps (alerts.privacy)

    @property
    def for_communications(self) -> bool:
        return COMMUNICATIONS in self.audience


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: its condition, its exceptions and the detectors they read."""

    spec: RuleSpec
    origin: str  # "file:line" where the rule is defined
    pack: str  # id of the pack that defines it
    when: Node
    exceptions: tuple[tuple[str, Node], ...]
    detectors: frozenset[str]

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def shadow(self) -> bool:
        return self.spec.maturity == "incubating"

    def outcome(self, ctx: Context) -> Tri:
        """Three-valued: does the rule fire (True), not fire (False), or depend on a detector not run."""
        if str(ctx.post.source) not in self.spec.sources:
            return False
        return self._decide(ctx)[0]

    def _decide(self, ctx: Context) -> tuple[Tri, Outcome, str | None]:
        when = self.when.evaluate(ctx)
        if when.value is False:
            return False, when, None
        unknown = when.value is None
        for name, node in self.exceptions:
            out = node.evaluate(ctx)
            if out.value is True:
                return False, when, name
            if out.value is None:
                unknown = True
        return (None if unknown else True), when, None

    def match(self, ctx: Context) -> RuleHit | None:
        if str(ctx.post.source) not in self.spec.sources:
            return None
        value, when, _ = self._decide(ctx)
        if value is not True:
            return None
        seen: dict[tuple[str, str, int, int], Finding] = {}
        for f in when.findings:
            seen.setdefault((f.detector, f.type, f.start, f.end), f)
        spec = self.spec
        return RuleHit(
            rule_id=spec.id,
            title=spec.title,
            severity=spec.severity,
            maturity=spec.maturity,
            shadow=self.shadow,
            clauses=(f"source {ctx.post.source!s}", *dict.fromkeys(when.clauses)),
            findings=tuple(sorted(seen.values(), key=lambda f: (f.start, f.end))),
            remediation=spec.remediation,
            references=tuple(spec.references),
            audience=tuple(spec.audience),
            four_eyes=spec.four_eyes,
            purpose=spec.purpose,
        )

    def suppressed_by(self, ctx: Context) -> str | None:
        """The exception that stopped an otherwise matching rule (for `explain`), if any."""
        if str(ctx.post.source) not in self.spec.sources:
            return None
        value, when, name = self._decide(ctx)
        return name if value is False and when.value is True else None


def compile_rule(
    spec: RuleSpec,
    lists: Mapping[str, tuple[str, ...]],
    origin: str,
    pack: str,
    classifier_thresholds: Mapping[str, float] | None = None,
) -> CompiledRule:
    when = compile_condition(spec.when, lists, classifier_thresholds)
    exceptions = tuple(
        (e.name, compile_condition(e.when, lists, classifier_thresholds)) for e in spec.exceptions
    )
    detectors = when.detectors.union(*(node.detectors for _, node in exceptions))
    return CompiledRule(spec, origin, pack, when, exceptions, detectors)


_ALL_RAN = frozenset(DETECTORS)


@dataclass(frozen=True)
class SpikeThresholds:
    """A pack's ``spikes:`` after inheritance; None where no pack in the chain sets the key."""

    k: float | None = None
    min_volume: int | None = None

    def merged(self, k: float | None, min_volume: int | None) -> SpikeThresholds:
        return SpikeThresholds(
            self.k if k is None else k, self.min_volume if min_volume is None else min_volume
        )


@dataclass(frozen=True)
class RetentionDefault:
    """A pack's ``retention:`` after inheritance and overlays, with the file and line that set it."""

    days: int
    source: str
    origin: str  # e.g. policies/packs/us.yaml:14
    shipped: bool  # False: an organisation's own pack or overlay set it
    required: bool = False  # a regulatory minimum rather than a storage-limitation maximum


@dataclass(frozen=True)
class Plan:
    """One jurisdiction's compiled rules and exactly the detector work they need."""

    jurisdiction: str
    pack: str
    detector_plan: DetectorPlan
    rules: tuple[CompiledRule, ...]
    disabled: Mapping[str, str] = field(default_factory=dict)  # rule id → recorded reason
    _by_detector: Mapping[str, tuple[CompiledRule, ...]] = field(default_factory=dict, repr=False)
    spikes: SpikeThresholds = field(default_factory=SpikeThresholds)
    retention: RetentionDefault | None = None  # None: no pack in the chain sets one
    personal: PersonalMarkers = field(default_factory=PersonalMarkers)
    pseudonymise_authors: bool = False  # pack key: officers see author pseudonyms
    # Sampling populations in match order (policies.sampling): the first that matches a post is its.
    sampling: tuple[Population, ...] = ()

    def population_for(self, post: Post, jurisdiction: str) -> Population | None:
        return population_for(self.sampling, post, jurisdiction)

    def needs(
        self, detector: str, post: Post, findings: Sequence[Finding], ran: Collection[str] | None = None
    ) -> bool:
        """Can a rule still change its outcome on this post if ``detector`` runs?

        ``ran`` is the detectors whose findings are already in ``findings``; by default, the plan's
        detectors that come before ``detector`` in the registry's DETECTOR_ORDER (the pipeline's order).
        """
        candidates = self._by_detector.get(detector)
        if not candidates:
            return False
        if ran is None:
            position = DETECTORS.index(detector) if detector in DETECTORS else len(DETECTORS)
            # A detector outside the plan never runs: its (absent) findings are already final.
            ran = (
                frozenset(DETECTORS[:position]) | (frozenset(DETECTORS) - self.detector_plan.detectors)
            ) - {detector}
        ctx = Context(post, findings, ran)
        return any(rule.outcome(ctx) is None for rule in candidates)

    def evaluate(self, post: Post, findings: Sequence[Finding]) -> list[RuleHit]:
        """Every detector of the plan counts as run: a skipped one was skipped because no rule needed it."""
        ctx = Context(post, findings, _ALL_RAN)
        hits = []
        for rule in self.rules:
            hit = rule.match(ctx)
            if hit is not None:
                hits.append(hit)
        return hits

    def explain(
        self, post: Post, findings: Sequence[Finding]
    ) -> list[tuple[CompiledRule, RuleHit | None, str | None]]:
        """For each rule: its hit, or the exception that suppressed it (None, None when it did not match)."""
        ctx = Context(post, findings, _ALL_RAN)
        return [(rule, rule.match(ctx), rule.suppressed_by(ctx)) for rule in self.rules]


def build_plan(
    jurisdiction: str,
    pack: str,
    rules: Sequence[CompiledRule],
    lists: Mapping[str, tuple[str, ...]],
    disabled: Mapping[str, str],
    spikes: SpikeThresholds | None = None,
    classifier_thresholds: Mapping[str, float] | None = None,
    retention: RetentionDefault | None = None,
    *,
    personal: PersonalMarkers | None = None,
    pseudonymise_authors: bool = False,
    sampling: Sequence[Population] = (),
) -> Plan:
    entities: set[str] = set()
    classifier_floors: dict[str, float] = {}
    patterns: set[str] = set()
    used_lists: set[str] = set()
    detectors: set[str] = set()
    sentiment = False
    for rule in rules:
        for cond in rule_conditions(rule.spec):
            if cond.pii is not None:
                entities.update(cond.pii.entities)
            elif cond.pattern is not None:
                patterns.update(cond.pattern.names)
            elif cond.lexicon is not None:
                used_lists.update(cond.lexicon.lists)
            elif cond.near is not None:
                used_lists.update(name for name in (cond.near.a, cond.near.b) if name is not None)
                entities.update(cond.near.entities or ())
            elif cond.sentiment is not None:
                sentiment = True
            elif cond.classifier is not None:
                label = cond.classifier.label
                floor = cond.classifier.floor(classifier_thresholds)
                # The detector reports a label from the lowest score any rule reads it at.
                classifier_floors[label] = min(floor, classifier_floors.get(label, floor))
        detectors |= rule.detectors
    # An empty list (shipped for adopters to fill) can never match: the detector need not load it.
    lexicon_lists = {name: lists[name] for name in sorted(used_lists) if lists.get(name)}
    if not lexicon_lists:
        detectors.discard("lexicon")
    by_detector: dict[str, list[CompiledRule]] = defaultdict(list)
    for rule in rules:
        for detector in rule.detectors:
            by_detector[detector].append(rule)
    detector_plan = DetectorPlan(
        jurisdiction=jurisdiction,
        detectors=frozenset(detectors),
        pii_entities=frozenset(entities),
        lexicon_lists=lexicon_lists,
        patterns=frozenset(patterns),
        sentiment=sentiment,
        classifier_min_scores=dict(sorted(classifier_floors.items())),
    )
    return Plan(
        jurisdiction,
        pack,
        detector_plan,
        tuple(rules),
        dict(disabled),
        {d: tuple(r) for d, r in by_detector.items()},
        spikes or SpikeThresholds(),
        retention,
        personal or PersonalMarkers(),
        pseudonymise_authors,
        tuple(sampling),
    )


def rule_conditions(spec: RuleSpec) -> list[Condition]:
    """Every condition of a rule, nested ones included, its exceptions' too."""
    out: list[Condition] = []
    stack = [spec.when, *(e.when for e in spec.exceptions)]
    while stack:
        cond = stack.pop()
        out.append(cond)
        stack.extend(cond.all_ or ())
        stack.extend(cond.any_ or ())
        if cond.not_ is not None:
            stack.append(cond.not_)
    return out
