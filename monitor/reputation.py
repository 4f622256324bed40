"""E-reputation: brand sentiment and volume in tumbling event-time windows, spikes and crises.

Per brand x jurisdiction (the policy pack, a bounded label) x source, posts are counted in tumbling
windows of ``window_seconds`` by ``post.created_at``. A window stays open until the key's watermark
(newest event time seen) passes its end plus ``allowed_lateness_seconds``; then it is closed and
folded into an EWMA baseline of the volume and of the negative share (bias-corrected: the first
windows are a plain running mean). An open window is checked after every batch, so a burst is
reported while it happens, at most once per window and kind:

* negative spike: negative share > baseline mean + k * dev,
* volume spike: volume > baseline mean + k * dev,

and in both cases only once the window holds ``min_volume`` posts (``k`` and ``min_volume`` come from
the jurisdiction's policy pack, ``spikes:``, read at each check so a policy reload applies at once;
the settings are the fallback where no pack sets them) and the baseline has seen
``min_baseline_windows`` windows. ``dev`` has a floor from sampling noise (binomial for a share,
Poisson for a count): an EWMA of a calm stream's deviation can be near zero and would page on noise.

Crisis: an employee's policy hit (a non-shadow alert on an employee's post naming the brand) and an
external negative spike on the same brand in the same or an adjacent window raise one ``critical``
alert that links both; one per brand per run of adjacent windows.

Exactly-once state: the aggregator remembers, per topic partition, the last offset it applied, and
persists it with the windows (``alerts.reputation_store``). A replayed batch is skipped; a batch that
failed before its state was saved is rolled back with ``reload()``.

Several workers, rebalances: a brand's posts arrive on every partition (posts are keyed by author),
so every worker updates the same brand state. Each state entry is versioned in the store; before a
batch the aggregator re-reads the versions and reloads if another worker saved since, and a save
that lost a race raises ``ReputationConflict`` so the run loop retries the batch on fresh state. A
partition moving to another worker is therefore picked up with its applied offsets and windows.
Cost: one small query per batch, and a retried batch when two workers touch a brand at once.
Limitation: the watermark is per key, not per partition; when one partition runs far ahead of the
others (a backlog replayed unevenly), the others' posts may arrive later than the allowed lateness
and are dropped from the windows (they still go through the rules).

Themes, the words of negative brand posts counted per window: see ``monitor.reputation_state``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from alerts.model import WINDOW_ORIGIN_KIND, Alert, AlertKind, Severity, alert_id
from alerts.windows import WindowRow
from detectors.lexicon import fold
from detectors.sentiment import NEGATIVE_THRESHOLD
from monitor.brands import BrandConfig, BrandMatcher
from monitor.reputation_state import (
    MAX_TERMS_PER_WINDOW,
    BrandState,
    Ewma,
    KeyState,
    ReputationConfig,
    Window,
    theme_words,
)

if TYPE_CHECKING:
    from monitor.metrics import Metrics
    from policies.post import Post

log = logging.getLogger(__name__)

RULE_NEGATIVE_SPIKE = "reputation-negative-spike"
RULE_VOLUME_SPIKE = "reputation-volume-spike"
RULE_CRISIS = "reputation-crisis"
SPIKE_KINDS = ("negative", "volume", "crisis")
SAMPLE_POSTS = 5
# Gaps of empty windows are folded into the volume baseline one by one, up to this many (a week of
# 5-minute windows); beyond it, the baseline has forgotten the past anyway.
MAX_GAP_WINDOWS = 2016


class ResultLike(Protocol):
    """What the aggregator reads of ``monitor.pipeline.PostResult``."""

    @property
    def post(self) -> Post: ...
    @property
    def jurisdiction(self) -> str: ...
    @property
    def findings(self) -> Sequence[Any]: ...
    @property
    def alerts(self) -> Sequence[Alert]: ...


class StateStore(Protocol):
    """``alerts.reputation_store.ReputationStore`` fits."""

    def load_state(self) -> dict[str, tuple[dict[str, Any], int]]: ...

    def versions(self) -> dict[str, int]: ...

    def save(self, state: Mapping[str, dict[str, Any]], expected: Mapping[str, int],
             windows: Sequence[WindowRow]) -> dict[str, int]: ...


SentimentScorer = Callable[[Sequence["Post"]], list[float | None]]
# Pack jurisdiction -> (k, min_volume), None for a key the pack leaves to the settings.
Thresholds = Callable[[str], tuple[float | None, int | None]]


def sentiment_scorer(detectors: Iterable[Any]) -> SentimentScorer | None:
    """Compound scores from the pipeline's own sentiment detector, for brand posts its plan skipped."""
    from detectors.base import DetectorPlan

    detector = next((d for d in detectors if getattr(d, "name", None) == "sentiment"), None)
    if detector is None:
        return None
    plan = DetectorPlan(jurisdiction="GLOBAL", detectors=frozenset({"sentiment"}), sentiment=True)

    def score(posts: Sequence[Post]) -> list[float | None]:
        found = detector.detect(posts, plan)
        return [next((f.score for f in fs if f.detector == "sentiment"), None) for fs in found]

    return score


def _compound(findings: Sequence[Any]) -> float | None:
    return next((f.score for f in findings if getattr(f, "detector", None) == "sentiment"), None)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class ReputationAggregator:
    """Feed it each batch's pipeline results; it returns the spike and crisis alerts to store."""

    def __init__(
        self,
        brands: Sequence[BrandConfig],
        config: ReputationConfig | None = None,
        *,
        store: StateStore | None = None,
        scorer: SentimentScorer | None = None,
        jurisdiction_of: Callable[[str], str] | None = None,
        thresholds: Thresholds | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config or ReputationConfig()
        self.matcher = BrandMatcher(brands)
        self._store = store
        self._scorer = scorer
        self._jurisdiction_of = jurisdiction_of or (lambda j: j)
        self._thresholds = thresholds
        self._metrics = metrics
        self.keys: dict[str, KeyState] = {}
        self.brand_states: dict[str, BrandState] = {}
        self.applied: dict[str, int] = {}  # "topic:partition" -> last offset folded into the state
        self._versions: dict[str, int] = {}  # state key -> version read from or written to the store
        self._brand_words = frozenset(
            word for brand in brands for term in brand.terms() for word in fold(term)[0].strip("@#").split()
        )
        self._dirty: set[str] = set()
        self._dirty_windows: set[tuple[str, int]] = set()
        self._dirty_offsets: set[str] = set()
        self._closed_rows: list[WindowRow] = []  # windows closed since the last save, final numbers
        self.reload()

    # --- state ---

    def reload(self) -> None:
        """Back to the last saved state (or empty): after a batch failed before ``save``."""
        self.keys, self.brand_states, self.applied, self._versions = {}, {}, {}, {}
        self._dirty.clear()
        self._dirty_windows.clear()
        self._closed_rows.clear()
        self._dirty_offsets.clear()
        if self._store is None:
            return
        for key, (payload, version) in self._store.load_state().items():
            self._versions[key] = version
            if key.startswith("window:"):
                state = KeyState.from_json(payload)
                if state.brand in self.matcher.brands:  # a brand removed from the settings is forgotten
                    self.keys[key] = state
            elif key.startswith("brand:"):
                brand = BrandState.from_json(payload)
                if brand.brand in self.matcher.brands:
                    self.brand_states[key] = brand
            elif key.startswith("offsets:"):
                self.applied[key.removeprefix("offsets:")] = int(payload["offset"])

    def save(self) -> None:
        """Persist what the last batches changed, offsets included, in one transaction."""
        if self._store is None or not (self._dirty or self._dirty_windows or self._dirty_offsets):
            return
        # One row per partition: workers owning other partitions write their own rows, not this one.
        state: dict[str, dict[str, Any]] = {
            f"offsets:{ref}": {"offset": self.applied[ref]} for ref in self._dirty_offsets
        }
        for key in self._dirty:
            holder = self.keys.get(key) or self.brand_states[key]
            state[key] = holder.to_json()
        rows = list(self._closed_rows)
        for key, start in self._dirty_windows:
            ks = self.keys[key]
            window = ks.windows.get(start)
            if window is not None:
                rows.append(self._row(ks, window))
        self._versions.update(self._store.save(state, self._versions, rows))
        self._dirty_offsets.clear()
        self._dirty.clear()
        self._dirty_windows.clear()
        self._closed_rows.clear()

    @staticmethod
    def _row(ks: KeyState, window: Window) -> WindowRow:
        return WindowRow(ks.brand, ks.jurisdiction, ks.source, window.start, window.volume, window.scored,
                         window.negatives, window.compound_sum, dict(window.negative_terms))

    # --- processing ---

    def process(
        self, results: Sequence[ResultLike], origins: Sequence[Mapping[str, Any]] | None = None,
        *, policy_version: str = "reputation",
    ) -> list[Alert]:
        self._refresh()
        fresh: list[tuple[ResultLike, list[str]]] = []
        for index, result in enumerate(results):
            if origins is not None and not self._first_time(origins[index]):
                continue
            brands = self.matcher.brands_in(result.post.text)
            if brands:
                fresh.append((result, brands))
        compounds = [_compound(result.findings) for result, _ in fresh]
        missing = [i for i, c in enumerate(compounds) if c is None]
        if missing and self._scorer is not None:
            for i, score in zip(missing, self._scorer([fresh[i][0].post for i in missing]), strict=True):
                compounds[i] = score

        # Event-time order, so that a batch spanning several windows (a backlog) closes each window,
        # and updates the baseline, before the next one is judged: as if the posts had come one by one.
        ordered = sorted(zip(fresh, compounds, strict=True), key=lambda item: item[0][0].post.created_at)
        alerts: list[Alert] = []
        touched: set[str] = set()
        for (result, brands), compound in ordered:
            post = result.post
            event = int(post.created_at.timestamp())
            start = event - event % self.config.window_seconds
            jurisdiction = self._jurisdiction_of(result.jurisdiction)
            for brand in brands:
                ks = self._key(brand, jurisdiction, post.source.value)
                if event > ks.watermark:
                    ks.watermark = event
                    alerts.extend(self._close_ready(ks, policy_version))
                touched.add(ks.key)
                if ks.last_closed is not None and start <= ks.last_closed:
                    log.debug("late post for %s window %s dropped", ks.key, _iso(start))
                    continue
                window = ks.windows.setdefault(start, Window(start))
                window.volume += 1
                if compound is not None:
                    window.scored += 1
                    window.compound_sum += compound
                    if compound <= NEGATIVE_THRESHOLD:
                        window.negatives += 1
                        if len(window.samples) < SAMPLE_POSTS:
                            window.samples.append(post.id)
                        terms = window.negative_terms
                        for word in theme_words(post.text, result.findings, self._brand_words):
                            if word in terms or len(terms) < MAX_TERMS_PER_WINDOW:
                                terms[word] = terms.get(word, 0) + 1
                self._dirty_windows.add((ks.key, start))
                bs = self._brand(brand)
                bs.watermark = max(bs.watermark, event)
                # Rule alerts only: a post drawn for review (a sample) is no employee hit.
                rule_alerts = [alert for alert in result.alerts if alert.kind is AlertKind.ALERT]
                if post.author.is_employee and rule_alerts:
                    hits = bs.employee_hits.setdefault(start, [])
                    for alert in rule_alerts:
                        if len(hits) < SAMPLE_POSTS and alert.id not in hits:
                            hits.append(alert.id)
                    self._dirty.add(bs.key)

        for key in sorted(touched):
            ks = self.keys[key]
            self._dirty.add(key)
            for window in sorted(ks.windows.values(), key=lambda w: w.start):
                alerts.extend(self._check(ks, window, policy_version))
            self._gauges(ks)
        for bs in self.brand_states.values():
            alerts.extend(self._crisis(bs, policy_version))
        return alerts

    def _refresh(self) -> None:
        """Pick up what other workers saved (a rebalance, or shared brands) before counting a batch."""
        if self._store is None or self._dirty or self._dirty_windows or self._dirty_offsets:
            return  # unsaved work: if the store moved meanwhile, save() reports the conflict
        if self._store.versions() != self._versions:
            log.debug("reputation state changed in the store; reloading it")
            self.reload()

    def _first_time(self, origin: Mapping[str, Any]) -> bool:
        topic, partition, offset = origin.get("topic"), origin.get("partition"), origin.get("offset")
        if topic is None or partition is None or offset is None:
            return True
        ref = f"{topic}:{partition}"
        if offset <= self.applied.get(ref, -1):
            return False
        self.applied[ref] = int(offset)
        self._dirty_offsets.add(ref)
        return True

    def _key(self, brand: str, jurisdiction: str, source: str) -> KeyState:
        key = f"window:{brand}:{jurisdiction}:{source}"
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = KeyState(brand, jurisdiction, source)
        return state

    def _brand(self, brand: str) -> BrandState:
        key = f"brand:{brand}"
        state = self.brand_states.get(key)
        if state is None:
            state = self.brand_states[key] = BrandState(brand)
        return state

    def _close_ready(self, ks: KeyState, policy_version: str) -> list[Alert]:
        """Close the windows the watermark has passed, judging each one last against the baseline."""
        size = self.config.window_seconds
        alpha = self.config.ewma_alpha
        alerts: list[Alert] = []
        for start in sorted(ks.windows):
            if start + size + self.config.allowed_lateness_seconds > ks.watermark:
                break
            alerts.extend(self._check(ks, ks.windows[start], policy_version))
            window = ks.windows.pop(start)
            self._closed_rows.append(self._row(ks, window))
            if ks.last_closed is not None:
                gap = min((start - ks.last_closed) // size - 1, MAX_GAP_WINDOWS)
                for _ in range(max(gap, 0)):
                    ks.volume.update(0.0, alpha)
            ks.volume.update(float(window.volume), alpha)
            if window.scored:
                ks.share.update(window.negative_share, alpha)
            ks.last_closed = start
        return alerts

    def thresholds(self, jurisdiction: str) -> tuple[float, int]:
        """``k`` and ``min_volume`` for a pack jurisdiction: the pack's, else the settings'."""
        k, min_volume = self._thresholds(jurisdiction) if self._thresholds else (None, None)
        return (self.config.k if k is None else k,
                self.config.min_volume if min_volume is None else min_volume)

    def _check(self, ks: KeyState, window: Window, policy_version: str) -> list[Alert]:
        config = self.config
        k, min_volume = self.thresholds(ks.jurisdiction)
        if window.volume < min_volume:
            return []
        alerts: list[Alert] = []
        if ("negative" not in window.raised and window.scored
                and ks.share.n >= config.min_baseline_windows):
            p = min(max(ks.share.mean, 0.01), 0.99)
            dev = max(ks.share.dev, math.sqrt(p * (1 - p) / window.scored))
            if window.negative_share > ks.share.mean + k * dev:
                window.raised.append("negative")
                alert = self._spike_alert(ks, window, "negative", ks.share, dev, k, min_volume,
                                          policy_version)
                alerts.append(alert)
                if ks.source == "external":
                    spikes = self._brand(ks.brand).negative_spikes
                    spikes.setdefault(window.start, [ks.jurisdiction, alert.id])
                    self._dirty.add(f"brand:{ks.brand}")
        if "volume" not in window.raised and ks.volume.n >= config.min_baseline_windows:
            dev = max(ks.volume.dev, math.sqrt(max(ks.volume.mean, 1.0)))
            if window.volume > ks.volume.mean + k * dev:
                window.raised.append("volume")
                alerts.append(self._spike_alert(ks, window, "volume", ks.volume, dev, k, min_volume,
                                                policy_version))
        return alerts

    def _spike_alert(self, ks: KeyState, window: Window, kind: str, baseline: Ewma, dev: float,
                     k: float, min_volume: int, policy_version: str) -> Alert:
        rule = RULE_NEGATIVE_SPIKE if kind == "negative" else RULE_VOLUME_SPIKE
        measured = (f"negative share {window.negative_share:.3f} of {window.scored} scored posts"
                    if kind == "negative" else f"volume {window.volume} posts")
        end = window.start + self.config.window_seconds
        if self._metrics is not None:
            self._metrics.spike_alerts.labels(ks.brand, kind).inc()
        return Alert(
            id=alert_id(f"spike:{ks.brand}:{ks.jurisdiction}:{ks.source}:{window.start}", rule),
            rule_id=rule,
            rule_title=f"{'Negative sentiment' if kind == 'negative' else 'Volume'} spike about {ks.brand}",
            severity=Severity.HIGH,
            jurisdiction=ks.jurisdiction,
            source=ks.source,
            channel="*",
            post_id=f"window:{ks.brand}:{ks.jurisdiction}:{ks.source}:{_iso(window.start)}",
            author_id="*",
            author_role="aggregate",
            post_created_at=datetime.fromtimestamp(window.start, UTC),
            policy_version=policy_version,
            explanation=[
                f"brand {ks.brand}, {ks.source} posts, window {_iso(window.start)} to {_iso(end)}",
                f"{measured}; window volume {window.volume} >= minimum {min_volume}",
                f"baseline mean {baseline.mean:.3f}, deviation {dev:.3f} over {baseline.n} windows, "
                f"k {k}: threshold {baseline.mean + k * dev:.3f}",
                f"mean compound sentiment {window.mean_compound:.3f}",
            ],
            remediation="Check the sample posts and the brand timeline; brief the communications team.",
            origin={"kind": WINDOW_ORIGIN_KIND, "brand": ks.brand, "window_start": _iso(window.start),
                    "sample_post_ids": list(window.samples)},
            comms_visible=True,  # e-reputation is communications' business by construction
            purpose="reputation",
        )

    def _crisis(self, bs: BrandState, policy_version: str) -> list[Alert]:
        size = self.config.window_seconds
        alerts: list[Alert] = []
        for spike_start, (jurisdiction, spike_id) in sorted(bs.negative_spikes.items()):
            if any(abs(spike_start - c) <= size for c in bs.crises):
                continue
            hits = [(s, ids) for s, ids in sorted(bs.employee_hits.items()) if abs(s - spike_start) <= size]
            if not hits:
                continue
            bs.crises.append(spike_start)
            self._dirty.add(bs.key)
            hit_ids = [i for _, ids in hits for i in ids][:SAMPLE_POSTS]
            if self._metrics is not None:
                self._metrics.spike_alerts.labels(bs.brand, "crisis").inc()
            alerts.append(Alert(
                id=alert_id(f"crisis:{bs.brand}:{spike_start}", RULE_CRISIS),
                rule_id=RULE_CRISIS,
                rule_title=f"Reputation crisis about {bs.brand}: employee policy hit during a negative spike",
                severity=Severity.CRITICAL,
                jurisdiction=jurisdiction,
                source="external",
                channel="*",
                post_id=f"crisis:{bs.brand}:{_iso(spike_start)}",
                author_id="*",
                author_role="aggregate",
                post_created_at=datetime.fromtimestamp(spike_start, UTC),
                policy_version=policy_version,
                explanation=[
                    f"external negative spike on {bs.brand} in window {_iso(spike_start)} (alert {spike_id})",
                    f"{len(hit_ids)} employee policy alert(s) naming {bs.brand} in the same or an adjacent "
                    f"window: {', '.join(hit_ids)}",
                ],
                remediation="Escalate to communications, legal and HR together; one owner for the response.",
                origin={"kind": WINDOW_ORIGIN_KIND, "brand": bs.brand, "spike_alert_id": spike_id,
                        "employee_alert_ids": hit_ids},
                comms_visible=True,
                purpose="reputation",
            ))
        # Pruned after matching, so that a backlog batch spanning many windows still pairs its halves.
        horizon = bs.watermark - 3 * size
        for table in (bs.employee_hits, bs.negative_spikes):
            for start in [s for s in table if s < horizon]:
                del table[start]
                self._dirty.add(bs.key)
        bs.crises = [s for s in bs.crises if s >= horizon - 3 * size]
        return alerts

    def _gauges(self, ks: KeyState) -> None:
        if self._metrics is None or not ks.windows:
            return
        window = ks.windows[max(ks.windows)]
        labels = (ks.brand, ks.jurisdiction, ks.source)
        self._metrics.brand_volume.labels(*labels).set(window.volume)
        if window.scored:
            self._metrics.brand_sentiment.labels(*labels).set(window.mean_compound)


def build_aggregator(settings: Any, pipeline: Any, store: StateStore | None,
                     metrics: Metrics | None = None) -> ReputationAggregator:
    """The aggregator `veille run` uses: brands from the settings, thresholds from the packs."""

    def thresholds(jurisdiction: str) -> tuple[float | None, int | None]:
        # The pipeline's current packs: a hot reload changes the thresholds with the rules.
        spikes = pipeline.policies.plan_for(jurisdiction).spikes
        return spikes.k, spikes.min_volume

    return ReputationAggregator(
        settings.brands, settings.reputation, store=store,
        scorer=sentiment_scorer(getattr(pipeline, "detectors", ())),
        jurisdiction_of=getattr(pipeline, "metric_jurisdiction", None),
        thresholds=thresholds if hasattr(pipeline, "policies") else None, metrics=metrics,
    )
