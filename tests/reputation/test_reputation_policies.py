"""Spike thresholds per jurisdiction in the policy packs: inherited, strictly validated, applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.base import Finding
from monitor.pipeline import PostResult, build_pipeline
from monitor.reputation import build_aggregator
from monitor.settings import Settings
from policies import PolicyError, load_policy_set
from policies.post import Author, Post, Source

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_packs_set_the_thresholds_everywhere() -> None:
    policies = load_policy_set()
    for jurisdiction in policies.jurisdictions:
        spikes = policies.plan_for(jurisdiction).spikes
        assert (spikes.k, spikes.min_volume) == (3.0, 20), jurisdiction


def test_an_overlay_changes_one_key_for_one_jurisdiction(tmp_path: Path) -> None:
    _write(tmp_path, "fr-spikes.yaml", "pack: {id: acme_fr, overlay: fr}\nspikes:\n  min_volume: 500\n")
    policies = load_policy_set(tmp_path)
    fr = policies.plan_for("FR").spikes
    assert (fr.k, fr.min_volume) == (3.0, 500)  # k inherited from global
    assert policies.plan_for("GP").spikes.min_volume == 500  # a territory the fr pack covers
    assert policies.plan_for("DE").spikes.min_volume == 20  # eu, untouched


@pytest.mark.parametrize(("body", "message"), [
    ("spikes:\n  sigma: 3\n", "unknown key 'sigma' — Allowed keys: k, min_volume"),
    ("spikes: {}\n", "give 'k' (standard deviations, e.g. 3) and/or 'min_volume'"),
    ("spikes:\n  k: 0\n", "k: input should be greater than 0"),
    ("spikes:\n  min_volume: many\n", "min_volume: input should be a valid integer"),
])
def test_bad_spikes_section_is_refused_with_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, "acme.yaml", "pack: {id: acme, overlay: global}\n" + body)
    with pytest.raises(PolicyError) as caught:
        load_policy_set(tmp_path)
    [error] = [str(e) for e in caught.value.errors]
    assert error.startswith(f"{path}:")
    assert message in error


def _burst(jurisdiction: str, window: int, count: int, negative: float) -> list[PostResult]:
    out = []
    for i in range(count):
        text = "#ExampleCo service today"
        post = Post(id=f"{jurisdiction}-{window}-{i}", source=Source.EXTERNAL, channel="x",
                    author=Author(id=f"a{i}"), text=text, lang="en",
                    created_at=T0 + timedelta(seconds=window * 300 + i))
        compound = -0.7 if i < count * negative else 0.5
        finding = Finding("sentiment", "x", 0, len(text), compound)
        out.append(PostResult(post, jurisdiction, findings=[finding]))
    return out


def test_the_aggregator_applies_each_jurisdictions_thresholds_and_reloads(tmp_path: Path) -> None:
    org = tmp_path / "org"
    _write(org, "fr-spikes.yaml", "pack: {id: acme_fr, overlay: fr}\nspikes:\n  min_volume: 500\n")
    settings = Settings(_env_file=None, data_dir=tmp_path, policies_dir=org)
    pipeline = build_pipeline(settings)
    aggregator = build_aggregator(settings, pipeline, None)
    assert aggregator.thresholds("FR") == (3.0, 500)
    assert aggregator.thresholds("GLOBAL") == (3.0, 20)

    calm = [r for w in range(14) for j in ("FR", "GLOBAL") for r in _burst(j, w, 30, 0.2)]
    assert aggregator.process(calm) == []
    spikes = aggregator.process(_burst("FR", 14, 30, 0.9) + _burst("GLOBAL", 14, 30, 0.9))
    # FR needs 500 posts in a window: only the GLOBAL window spikes.
    assert [(a.rule_id, a.jurisdiction) for a in spikes] == [("reputation-negative-spike", "GLOBAL")]
    assert "k 3.0" in " ".join(spikes[0].explanation) and "minimum 20" in " ".join(spikes[0].explanation)

    pipeline.policies = load_policy_set(None)  # what a policy reload does between batches
    assert aggregator.thresholds("FR") == (3.0, 20)
    [again] = aggregator.process(_burst("FR", 14, 1, 1.0))  # the still-open FR window is judged anew
    assert (again.rule_id, again.jurisdiction) == ("reputation-negative-spike", "FR")
