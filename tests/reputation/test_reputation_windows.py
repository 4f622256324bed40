"""E-reputation windows on generated event-time streams: calm, burst, crisis, restart, replay."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerts.model import AlertKind
from alerts.reputation_store import ReputationStore
from alerts.sampling import SAMPLE_RULE_ID
from alerts.sql.reputation import ReputationConflict
from detectors.base import Finding
from monitor.brands import BrandConfig, BrandMatcher
from monitor.metrics import Metrics
from monitor.pipeline import PostResult, build_pipeline
from monitor.reputation import ReputationAggregator
from monitor.reputation_state import ReputationConfig, theme_words
from monitor.settings import Settings
from policies.post import Author, Post, Source

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a window boundary (multiple of 300 s)
CONFIG = ReputationConfig(
    window_seconds=300,
    k=3.0,
    min_volume=20,
    ewma_alpha=0.05,
    min_baseline_windows=12,
    allowed_lateness_seconds=30,
)
BRANDS = [
    BrandConfig(
        name="ExampleCo", aliases=["Exemple Compagnie"], handles=["exampleco"], hashtags=["exampleco"]
    ),
    BrandConfig(name="OtherBrand"),
]


def _result(
    post_id: str,
    at: datetime,
    compound: float,
    *,
    text: str = "talking about #ExampleCo today",
    source: Source = Source.EXTERNAL,
) -> PostResult:
    post = Post(
        id=post_id,
        source=source,
        channel="x",
        author=Author(id=f"a-{post_id}"),
        text=text,
        lang="en",
        created_at=at,
    )
    finding = Finding("sentiment", "x", 0, len(text), compound, "test")
    return PostResult(post, "GLOBAL", findings=[finding])


def calm_stream(windows: int, seed: int = 7, *, start: int = 0) -> list[PostResult]:
    """~40 brand posts per 5-minute window, about 20 % negative."""
    rng = random.Random(seed)
    out = []
    for w in range(start, start + windows):
        for i in range(rng.randint(36, 44)):
            at = T0 + timedelta(seconds=w * 300 + rng.uniform(0, 299))
            compound = -0.6 if rng.random() < 0.2 else rng.uniform(0.1, 0.8)
            out.append(_result(f"calm-{w}-{i}", at, compound))
    out.sort(key=lambda r: r.post.created_at)
    return out


def burst(window: int, count: int = 40, seed: int = 3) -> list[PostResult]:
    rng = random.Random(seed)
    return sorted(
        (
            _result(
                f"burst-{window}-{i}",
                T0 + timedelta(seconds=window * 300 + rng.uniform(0, 299)),
                -0.7 if rng.random() < 0.8 else 0.4,
            )
            for i in range(count)
        ),
        key=lambda r: r.post.created_at,
    )


_offsets = itertools.count(0, 10_000)


def feed(
    agg: ReputationAggregator,
    results: list[PostResult],
    batch: int = 25,
    first_offset: int | None = None,
) -> list[Any]:
    """Batches as the run loop hands them over; offsets keep growing unless a test replays them."""
    if first_offset is None:
        first_offset = next(_offsets) * 1000
    alerts = []
    for i in range(0, len(results), batch):
        chunk = results[i : i + batch]
        origins = [
            {"topic": "posts", "partition": 0, "offset": first_offset + i + j} for j in range(len(chunk))
        ]
        alerts.extend(agg.process(chunk, origins))
        agg.save()
    return alerts


def test_brand_matcher_reuses_lexicon_folding() -> None:
    matcher = BrandMatcher(BRANDS)
    assert matcher.brands_in("Rien à voir avec EXEMPLE compagnie ou @ExampleCo, #exampleco") == ["ExampleCo"]
    assert matcher.brands_in("otherbrand and exampleco") == ["ExampleCo", "OtherBrand"]
    assert matcher.brands_in("exampleconomy is not a brand") == []


def test_calm_stream_raises_nothing() -> None:
    agg = ReputationAggregator(BRANDS, CONFIG)
    assert feed(agg, calm_stream(60)) == []
    state = agg.keys["window:ExampleCo:GLOBAL:external"]
    assert state.share.n >= 55
    assert 0.12 < state.share.mean < 0.28


def test_negative_burst_raises_exactly_one_spike_within_its_window() -> None:
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    agg = ReputationAggregator(BRANDS, CONFIG, metrics=metrics)
    assert feed(agg, calm_stream(30)) == []
    # The burst replaces window 30's usual posts: same volume, a different tone.
    stream = sorted(burst(30) + calm_stream(5, seed=9, start=31), key=lambda r: r.post.created_at)
    alerts = feed(agg, stream)
    assert [a.rule_id for a in alerts] == ["reputation-negative-spike"]
    spike = alerts[0]
    assert spike.severity == "high"
    assert spike.post_created_at == T0 + timedelta(seconds=30 * 300)
    assert spike.origin["sample_post_ids"] and all(
        p.startswith(("burst-", "calm-")) for p in spike.origin["sample_post_ids"]
    )
    text = " ".join(spike.explanation)
    assert "negative share" in text and "baseline mean" in text and "k 3.0" in text
    assert "talking about" not in repr(spike.model_dump())  # never post text
    assert (
        registry.get_sample_value("veille_spike_alerts_total", {"brand": "ExampleCo", "kind": "negative"})
        == 1
    )
    volume = registry.get_sample_value(
        "veille_brand_volume", {"brand": "ExampleCo", "jurisdiction": "GLOBAL", "source": "external"}
    )
    assert volume is not None and volume > 0


def test_volume_spike_and_min_volume() -> None:
    agg = ReputationAggregator(BRANDS, CONFIG)
    feed(agg, calm_stream(30))
    # Three times the usual volume at the usual tone: a volume spike, not a negative one.
    loud = sorted(
        calm_stream(1, seed=11, start=30)
        + calm_stream(1, seed=12, start=30)
        + calm_stream(1, seed=13, start=30),
        key=lambda r: r.post.created_at,
    )
    # Unique ids across the three copies.
    loud = [_result(f"loud-{i}", r.post.created_at, r.findings[0].score) for i, r in enumerate(loud)]
    alerts = feed(agg, loud)
    assert [a.rule_id for a in alerts] == ["reputation-volume-spike"]

    quiet = ReputationAggregator(BRANDS, CONFIG.model_copy(update={"min_volume": 500}))
    feed(quiet, calm_stream(30))
    assert feed(quiet, burst(30)) == []


def _employee_hit(at: datetime) -> PostResult:
    pipeline = build_pipeline(Settings())
    post = Post(
        id="emp-1",
        source=Source.EXTERNAL,
        channel="linkedin",
        author=Author(id="u-9", is_employee=True, role="employee"),
        text="ExampleCo is a terrible place to work, management is awful and I hate it",
        lang="en",
        created_at=at,
    )
    [result] = pipeline.process([post])
    assert result.alerts, "the policy packs should flag an employee disparaging the brand"
    return result


@pytest.mark.parametrize("halves", ["both", "spike_only", "hit_only", "hit_far"])
def test_crisis_needs_both_halves(halves: str) -> None:
    agg = ReputationAggregator(BRANDS, CONFIG)
    feed(agg, calm_stream(30))
    stream = calm_stream(6, seed=5, start=30)
    if halves in ("both", "spike_only", "hit_far"):
        stream += burst(31)
    if halves in ("both", "hit_only"):
        stream.append(_employee_hit(T0 + timedelta(seconds=30 * 300 + 100)))  # the window before the spike
    if halves == "hit_far":
        stream.append(_employee_hit(T0 + timedelta(seconds=34 * 300 + 10)))
    stream.sort(key=lambda r: r.post.created_at)
    rules = [a.rule_id for a in feed(agg, stream)]
    crises = [r for r in rules if r == "reputation-crisis"]
    assert len(crises) == (1 if halves == "both" else 0)
    if halves in ("both", "spike_only", "hit_far"):
        assert rules.count("reputation-negative-spike") == 1


def test_an_employee_post_drawn_for_review_is_no_crisis_half() -> None:
    # The same post as a sampled item (kind sample) instead of a rule's alert: nothing was found in it.
    agg = ReputationAggregator(BRANDS, CONFIG)
    feed(agg, calm_stream(30))
    hit = _employee_hit(T0 + timedelta(seconds=30 * 300 + 100))
    drawn = PostResult(hit.post, hit.jurisdiction, findings=hit.findings, alerts=[
        hit.alerts[0].model_copy(update={"kind": AlertKind.SAMPLE, "rule_id": SAMPLE_RULE_ID})
    ])
    stream = sorted([*calm_stream(6, seed=5, start=30), *burst(31), drawn], key=lambda r: r.post.created_at)
    rules = [a.rule_id for a in feed(agg, stream)]
    assert rules.count("reputation-negative-spike") == 1 and "reputation-crisis" not in rules


def test_crisis_alert_links_both_halves() -> None:
    agg = ReputationAggregator(BRANDS, CONFIG)
    feed(agg, calm_stream(30))
    hit = _employee_hit(T0 + timedelta(seconds=31 * 300 + 5))
    alerts = feed(agg, sorted(burst(31) + calm_stream(3, start=31) + [hit], key=lambda r: r.post.created_at))
    [crisis] = [a for a in alerts if a.rule_id == "reputation-crisis"]
    [spike] = [a for a in alerts if a.rule_id == "reputation-negative-spike"]
    assert crisis.severity == "critical"
    assert crisis.comms_visible and spike.comms_visible  # communications' by construction
    assert crisis.origin["spike_alert_id"] == spike.id
    assert crisis.origin["employee_alert_ids"] == [a.id for a in hit.alerts]


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'veille.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_state_survives_restart_mid_window(state_url: str) -> None:
    stream = sorted(
        calm_stream(30) + burst(30) + calm_stream(4, seed=21, start=30), key=lambda r: r.post.created_at
    )
    hit_at = T0 + timedelta(seconds=30 * 300 + 200)
    stream = sorted([*stream, _employee_hit(hit_at)], key=lambda r: r.post.created_at)

    straight = ReputationAggregator(BRANDS, CONFIG)
    expected = feed(straight, stream, first_offset=0)
    assert {a.rule_id for a in expected} == {
        "reputation-negative-spike",
        "reputation-volume-spike",
        "reputation-crisis",
    }

    # Cut in the middle of the burst window, after a batch boundary.
    middle = next(
        i for i, r in enumerate(stream) if r.post.created_at >= T0 + timedelta(seconds=30 * 300 + 150)
    )
    middle -= middle % 25
    store = ReputationStore.open(state_url)
    first = ReputationAggregator(BRANDS, CONFIG, store=store)
    got = feed(first, stream[:middle], first_offset=0)
    store.close()

    store = ReputationStore.open(state_url)
    second = ReputationAggregator(BRANDS, CONFIG, store=store)
    # At-least-once delivery: the last batch before the restart comes again, and is skipped.
    got += feed(second, stream[middle - 25 :], first_offset=middle - 25)
    assert [a.id for a in got] == [a.id for a in expected]
    key = "window:ExampleCo:GLOBAL:external"
    assert second.keys[key].to_json() == straight.keys[key].to_json()
    rows = store.windows("ExampleCo", 0, 2**40)
    assert sum(r.volume for r in rows if r.source == "external") == sum(
        1 for r in stream if "ExampleCo".lower() in r.post.text.lower()
    )
    store.close()


def test_failed_batch_rolls_back_with_reload(tmp_path: Path) -> None:
    store = ReputationStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
    agg = ReputationAggregator(BRANDS, CONFIG, store=store)
    stream = calm_stream(3)
    feed(agg, stream[:50], first_offset=0)
    before = agg.keys["window:ExampleCo:GLOBAL:external"].to_json()
    agg.process(stream[50:75], [{"topic": "posts", "partition": 0, "offset": 50 + j} for j in range(25)])
    agg.reload()  # the batch failed downstream: back to what was saved
    assert agg.keys["window:ExampleCo:GLOBAL:external"].to_json() == before
    feed(agg, stream[50:], first_offset=50)
    straight = ReputationAggregator(BRANDS, CONFIG)
    feed(straight, stream, first_offset=0)
    key = "window:ExampleCo:GLOBAL:external"
    assert agg.keys[key].to_json() == straight.keys[key].to_json()
    store.close()


def test_brand_settings_are_bounded_and_unique() -> None:
    with pytest.raises(ValueError, match="configured twice"):
        Settings(_env_file=None, brands=[BrandConfig(name="Acme"), BrandConfig(name="ACME")])
    with pytest.raises(ValueError, match="at most 50"):
        Settings(_env_file=None, brands=[BrandConfig(name=f"b{i}") for i in range(51)])
    with pytest.raises(ValueError, match="name"):
        BrandConfig(name="not/a label")
    assert [b.name for b in Settings(_env_file=None).brands] == ["ExampleCo"]


Batch = tuple[list[PostResult], list[dict[str, Any]]]


def _batches(results: list[PostResult], size: int = 25) -> list[Batch]:
    """Consecutive batches, alternately from partition 0 and 1 of one topic, with their offsets."""
    out = []
    next_offset = [0, 0]
    for n, i in enumerate(range(0, len(results), size)):
        chunk = results[i : i + size]
        part = n % 2
        origins = [{"topic": "posts", "partition": part, "offset": next_offset[part] + j}
                   for j in range(len(chunk))]
        next_offset[part] += len(chunk)
        out.append((chunk, origins))
    return out


def test_two_workers_share_one_brand_state(state_url: str) -> None:
    """Partitions of one topic on two workers: together they count what one worker counts alone."""
    stream = sorted(calm_stream(30) + burst(30) + calm_stream(4, seed=21, start=30),
                    key=lambda r: r.post.created_at)
    straight = ReputationAggregator(BRANDS, CONFIG)
    expected = [a.id for chunk, origins in _batches(stream) for a in straight.process(chunk, origins)]
    assert expected

    stores = [ReputationStore.open(state_url), ReputationStore.open(state_url)]
    workers = [ReputationAggregator(BRANDS, CONFIG, store=s) for s in stores]
    got = []
    for n, (chunk, origins) in enumerate(_batches(stream)):
        worker = workers[n % 2]  # each batch on the worker owning its partition
        got += [a.id for a in worker.process(chunk, origins)]
        worker.save()
    assert got == expected
    key = "window:ExampleCo:GLOBAL:external"
    workers[0].process([], [])  # picks up the other worker's last save
    assert workers[0].keys[key].to_json() == straight.keys[key].to_json()
    for store in stores:
        store.close()


def test_lost_race_is_refused_and_retried(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'veille.db'}"
    stores = [ReputationStore.open(url), ReputationStore.open(url)]
    a, b = (ReputationAggregator(BRANDS, CONFIG, store=s) for s in stores)
    (chunk_a, origins_a), (chunk_b, origins_b) = _batches(calm_stream(1))[:2]
    a.process(chunk_a, origins_a)
    b.process(chunk_b, origins_b)
    b.save()
    with pytest.raises(ReputationConflict, match="window:ExampleCo:GLOBAL:external"):
        a.save()
    a.reload()  # what the run loop does before retrying the batch
    a.process(chunk_a, origins_a)
    a.save()
    straight = ReputationAggregator(BRANDS, CONFIG)
    straight.process(chunk_b, origins_b)
    straight.process(chunk_a, origins_a)
    key = "window:ExampleCo:GLOBAL:external"
    assert a.keys[key].to_json() == straight.keys[key].to_json()
    [row] = stores[0].windows("ExampleCo", 0, 2**40)
    assert row.volume == len(chunk_a) + len(chunk_b)
    for store in stores:
        store.close()


@pytest.mark.parametrize(("text", "words"), [
    ("ExampleCo delivery late again, really disappointing!", {"delivery", "late", "disappointing"}),
    # A capitalised first word is lost too: the price of never counting a name.
    ("Livraison ExampleCo très décevante, colis abîmé", {"decevante", "colis", "abime"}),
    ("mail jane.doe@example.org or call 0612345678 about the refund", {"mail", "call", "refund"}),
    ("Jean Dupont says #ExampleCo @exampleco https://t.co/xyz terrible", {"says", "terrible"}),
])
def test_theme_words_keep_no_personal_data(text: str, words: set[str]) -> None:
    agg = ReputationAggregator(BRANDS, CONFIG)
    assert theme_words(text, [], agg._brand_words) == words


def test_theme_words_skip_flagged_spans() -> None:
    text = "refund denied for alice smith today"
    pii = Finding("pii", "PERSON", text.index("alice"), text.index("smith") + 5, 0.9, "ner")
    assert theme_words(text, [pii], frozenset()) == {"refund", "denied", "today"}
