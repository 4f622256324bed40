"""Risk-based sampling in the worker's pipeline (FINRA Rule 3110.06): a post that raised no alert is
drawn with its population's probability, from a keyed hash of its id.

Rates are checked against binomial bounds (4 standard deviations: a correct draw fails about once in
16,000 runs) on 10,000 generated posts, never against a hand-picked tolerance.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from alerts.model import AlertKind, Severity, alert_id
from alerts.sampling import SAMPLE_RULE_ID
from detectors.config import DetectorConfig
from detectors.registry import build_detectors
from monitor.pipeline import Pipeline, PostResult
from monitor.reload import PolicyReloader
from monitor.traffic import generate_posts
from policies import load_policy_set
from policies.post import Author, Post, Source

RATES = {"reps": 30.0, "external": 10.0, "everyone_else": 2.0}
OVERLAY = """
    pack: {id: acme_sampling, overlay: global}
    sampling:
      - population: reps
        percent: %(reps)s
        author_role: [registered_rep]
      - population: external
        percent: %(external)s
        source: external
      - population: everyone_else
        percent: %(everyone_else)s
"""


def _write_overlay(directory: Path, rates: dict[str, float]) -> None:
    (directory / "acme-sampling.yaml").write_text(textwrap.dedent(OVERLAY % rates).lstrip(), encoding="utf-8")


def _population(post: Post) -> str:
    """The overlay's populations, read from the pack above by hand: first match wins."""
    if post.author.role == "registered_rep":
        return "reps"
    if post.source is Source.EXTERNAL:
        return "external"
    return "everyone_else"


def _samples(results: Sequence[PostResult]) -> dict[str, str]:
    """post id → population of the sample drawn from it."""
    out = {}
    for result in results:
        for alert in result.alerts:
            if alert.kind is AlertKind.SAMPLE:
                out[alert.post_id] = alert.population
    return out


def _raised_none(result: PostResult) -> bool:
    return not any(alert.kind is AlertKind.ALERT for alert in result.alerts)


def _within(observed: int, n: int, p: float, what: str) -> None:
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    assert abs(observed - mean) <= 4 * sd, (
        f"{what}: {observed} drawn of {n}, expected {mean:.1f} ± {4 * sd:.1f}"
    )


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return list(generate_posts(10_000, seed=11))


@pytest.fixture
def org(tmp_path: Path) -> Path:
    _write_overlay(tmp_path, RATES)
    return tmp_path


def _pipeline(org: Path, seed: bytes, detectors: Sequence[object] = ()) -> Pipeline:
    return Pipeline(load_policy_set(org), list(detectors), sampling_seed=seed)  # type: ignore[arg-type]


def test_rates_hold_within_binomial_bounds_and_a_seed_always_draws_the_same_posts(
    org: Path, posts: list[Post]
) -> None:
    results = _pipeline(org, b"seed-one").process(posts)
    eligible = Counter(_population(r.post) for r in results if _raised_none(r))
    drawn = _samples(results)
    assert set(eligible) == set(RATES)
    by_population = Counter(drawn.values())
    for name, percent in RATES.items():
        _within(by_population[name], eligible[name], percent / 100, name)
    posts_by_id = {p.id: p for p in posts}
    assert all(_population(posts_by_id[i]) == name for i, name in drawn.items())
    # Only posts that raised no alert are drawn, and each gives one item.
    for result in results:
        kinds = Counter(alert.kind for alert in result.alerts)
        assert kinds[AlertKind.SAMPLE] <= 1
        assert not (kinds[AlertKind.SAMPLE] and kinds[AlertKind.ALERT])

    again = _samples(_pipeline(org, b"seed-one").process(posts))
    assert again == drawn

    other = _samples(_pipeline(org, b"seed-two").process(posts))
    # Another seed draws as many, but other posts: the overlap is that of independent draws.
    for name, percent in RATES.items():
        _within(Counter(other.values())[name], eligible[name], percent / 100, f"{name} (seed two)")
    overlap = len(set(drawn) & set(other))
    mean = sum(eligible[name] * (p / 100) ** 2 for name, p in RATES.items())
    variance = sum(eligible[name] * (p / 100) ** 2 * (1 - (p / 100) ** 2) for name, p in RATES.items())
    assert abs(overlap - mean) <= 4 * math.sqrt(variance), (overlap, mean)


def test_a_sample_is_a_queue_item_with_a_stable_id_and_no_rule_evidence(org: Path, posts: list[Post]) -> None:
    results = _pipeline(org, b"seed-one").process(posts[:2000], [{"topic": "t", "partition": 0, "offset": i}
                                                                  for i in range(2000)])
    samples = [a for r in results for a in r.alerts if a.kind is AlertKind.SAMPLE]
    assert samples
    for sample in samples:
        assert sample.id == alert_id(sample.post_id, SAMPLE_RULE_ID)
        assert sample.rule_id == SAMPLE_RULE_ID
        assert sample.severity is Severity.INFO
        assert sample.origin["topic"] == "t"
        (evidence,) = sample.evidence
        assert evidence.detector == "sample" and evidence.span is None  # no raw span kept for a reveal


def test_a_rate_change_applies_at_the_next_batch_without_a_restart(org: Path, posts: list[Post]) -> None:
    batch = posts[:4000]
    pipeline = _pipeline(org, b"seed-one")
    reloader = PolicyReloader(org)
    before = _samples(pipeline.process(batch))
    _write_overlay(org, {**RATES, "everyone_else": 40.0})
    reloader.request()  # what SIGHUP or the file watcher does
    reloaded = reloader.poll(0.0)
    assert reloaded is not None
    pipeline.policies = reloaded
    results = pipeline.process(batch)
    after = _samples(results)
    eligible = sum(1 for r in results if _raised_none(r) and _population(r.post) == "everyone_else")
    _within(Counter(after.values())["everyone_else"], eligible, 0.40, "everyone_else at 40 %")
    # Raising a rate keeps what the lower rate drew (nested draws), and changes no other population.
    assert {i for i, n in before.items() if n == "everyone_else"} <= set(after)
    assert {i: n for i, n in before.items() if n != "everyone_else"} == {
        i: n for i, n in after.items() if n != "everyone_else"
    }


def test_alerts_carry_their_population_and_samples_are_masked_like_alerts(tmp_path: Path) -> None:
    _write_overlay(tmp_path, {"reps": 100.0, "external": 100.0, "everyone_else": 100.0})
    pipeline = _pipeline(tmp_path, b"seed-one", build_detectors(DetectorConfig()))
    email, phone = "claire.durand@example.org", "+33 6 12 34 56 78"
    quiet = Post(
        id="x-quiet-1", source=Source.EXTERNAL, channel="x",
        author=Author(id="a-1", role="customer"), lang="en",
        text=f"Thanks for the lunch, write to me at {email} or call {phone} tomorrow.",
    )
    generated = list(generate_posts(300, seed=5))
    results = pipeline.process([quiet, *generated])
    sample = next(a for a in results[0].alerts if a.kind is AlertKind.SAMPLE)
    snippet = sample.evidence[0].snippet
    assert email not in snippet and "[EMAIL_ADDRESS]" in snippet, snippet
    assert "12 34 56 78" not in snippet, snippet
    assert sample.population == "external"
    raised = [r for r in results if any(a.kind is AlertKind.ALERT for a in r.alerts)]
    assert raised, "the generated traffic raises alerts"
    for result in results:
        rule_alerts = [a for a in result.alerts if a.kind is AlertKind.ALERT]
        samples = [a for a in result.alerts if a.kind is AlertKind.SAMPLE]
        # At 100 %, every post that raised no alert is drawn; one that did is not.
        assert len(samples) == (0 if rule_alerts else 1)
        assert all(a.population == _population(result.post) for a in result.alerts)


def test_veille_scan_draws_nothing(tmp_path: Path, posts: list[Post]) -> None:
    # `veille scan` writes findings and rule alerts (a stable format): a review draw is neither.
    _write_overlay(tmp_path, {"reps": 100.0, "external": 100.0, "everyone_else": 100.0})
    scanning = Pipeline(load_policy_set(tmp_path), [], sampling_seed=b"seed-one", sampling=False)
    results = scanning.process(posts[:500])
    assert not any(alert.kind is AlertKind.SAMPLE for result in results for alert in result.alerts)
    sampling = _pipeline(tmp_path, b"seed-one").process(posts[:500])
    assert sum(alert.kind is AlertKind.SAMPLE for result in sampling for alert in result.alerts) > 400
