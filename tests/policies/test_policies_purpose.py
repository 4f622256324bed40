"""Purpose limitation and minimisation (GDPR art. 5(1)(b), (c)): every shipped rule states its purpose,
alerts carry it and keep only what it needs, and e-reputation windows keep counts, never authors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerts.model import Alert, Evidence, Severity
from alerts.privacy import MINIMISATION, author_pseudonym, minimise
from alerts.reputation_store import ReputationStore
from alerts.sql.schema import reputation_state_table, reputation_windows_table
from detectors.base import Finding
from monitor.brands import BrandConfig
from monitor.pipeline import PostResult
from monitor.reputation import ReputationAggregator
from monitor.reputation_state import ReputationConfig
from policies.errors import PolicyError
from policies.loader import load_policy_set
from policies.post import Author, Post, Source
from policies.schema import PURPOSES

KEY = b"test-key"


def test_every_shipped_rule_states_a_purpose_from_the_fixed_list() -> None:
    rules = [rule for _, rule in load_policy_set(include_sandbox=True).rules()]
    assert len(rules) > 30
    assert {rule.spec.purpose for rule in rules} == set(PURPOSES)
    by_id = {rule.id: rule.spec.purpose for rule in rules}
    # Spot checks written from what each rule is for, not from the files.
    assert by_id["global-secret-key-in-post"] == "information_security"
    assert by_id["us-finra-2210-promissory"] == "regulatory_supervision"
    assert by_id["fr-nir-in-post"] == "regulatory_supervision"
    assert by_id["global-negative-employee-external"] == "reputation"


def test_a_shipped_rule_without_purpose_is_refused_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "policies" / "packs"
    for pack in shipped.glob("*.yaml"):
        (tmp_path / pack.name).write_text(pack.read_text())
    text = (tmp_path / "uk.yaml").read_text()
    (tmp_path / "uk.yaml").write_text(text.replace("    purpose: regulatory_supervision\n", "", 1))
    monkeypatch.setattr("policies.loader.SHIPPED_DIR", tmp_path)
    with pytest.raises(PolicyError) as caught:
        load_policy_set()
    message = str(caught.value)
    assert "uk.yaml:" in message and "needs 'purpose'" in message and "regulatory_supervision" in message


def test_unknown_purpose_refused(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(
        "pack: {id: org, jurisdiction: ZZ, extends: global}\nrules:\n  - id: org-x\n    title: x\n"
        "    description: x\n    severity: low\n    maturity: incubating\n    purpose: marketing\n"
        "    when: {lexicon: confidentiality_markers}\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_set(tmp_path)
    assert "org.yaml:8" in str(caught.value) and "regulatory_supervision" in str(caught.value)


def _alert(purpose: str | None) -> Alert:
    def ev(detector: str, type_: str, span: str) -> Evidence:
        return Evidence(detector=detector, type=type_, start=0, end=len(span), score=1.0,
                        snippet=f"[{type_}]", span=span, personal=detector in ("pii", "pattern"))

    return Alert(
        id="a" * 32, rule_id="r", rule_title="r", severity=Severity.HIGH, jurisdiction="FR",
        source="external", channel="x", post_id="p-1", author_id="u-42", author_role="employee",
        post_created_at=datetime(2026, 1, 1, tzinfo=UTC), policy_version="v", purpose=purpose,
        author_pseudonymised=True,
        evidence=[ev("pii", "EMAIL_ADDRESS", "jo@example.org"), ev("pattern", "AWS_ACCESS_KEY", "AKIA0"),
                  ev("pii", "IP_ADDRESS", "10.1.2.3"), ev("lexicon", "negative_terms", "awful")],
    )


def _spans(alert: Alert) -> dict[str, str | None]:
    return {e.type: e.span for e in alert.evidence}


def test_minimisation_per_purpose() -> None:
    original = _alert("regulatory_supervision")
    assert minimise(original, KEY) is original

    infosec = minimise(_alert("information_security"), KEY)
    assert _spans(infosec) == {"EMAIL_ADDRESS": None, "AWS_ACCESS_KEY": "AKIA0", "IP_ADDRESS": "10.1.2.3",
                               "negative_terms": "awful"}
    assert infosec.author_id == "u-42" and infosec.author_pseudonymised

    reputation = minimise(_alert("reputation"), KEY)
    assert _spans(reputation) == {"EMAIL_ADDRESS": None, "AWS_ACCESS_KEY": None, "IP_ADDRESS": None,
                                  "negative_terms": "awful"}
    assert reputation.author_id == author_pseudonym(KEY, "u-42") and not reputation.author_pseudonymised
    assert [e.snippet for e in reputation.evidence] == [e.snippet for e in _alert(None).evidence]
    assert "u-42" not in reputation.model_dump_json()
    # Without a key the id is still not kept.
    assert minimise(_alert("reputation"), None).author_id == "*"
    # No purpose (older alerts, organisation packs without one): kept as it was.
    unspecified = _alert(None)
    assert minimise(unspecified, KEY) is unspecified
    assert set(MINIMISATION) == set(PURPOSES)


def test_pipeline_alerts_carry_their_purpose_and_are_minimised() -> None:
    from monitor.pipeline import build_pipeline
    from monitor.settings import Settings

    pipeline = build_pipeline(Settings(_env_file=None, pseudonym_key="k"))
    post = Post(id="p-7", source=Source.EXTERNAL, channel="x", lang="en", jurisdiction="GB",
                author=Author(id="emp-7", is_employee=True, role="employee"),
                text="Honestly ExampleCo is a terrible, awful, disgusting employer. I hate working here.")
    alerts = [a for r in pipeline.process([post]) for a in r.alerts]
    reputation = [a for a in alerts if a.purpose == "reputation"]
    assert reputation, [a.rule_id for a in alerts]
    for alert in reputation:
        assert alert.author_id.startswith("anon-")
        assert all(e.span is None for e in alert.evidence if e.personal)


def test_reputation_windows_store_counts_never_authors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rep.db'}"
    store = ReputationStore.open(url)
    config = ReputationConfig(window_seconds=300, k=3.0, min_volume=5, ewma_alpha=0.05,
                              min_baseline_windows=2, allowed_lateness_seconds=900)
    aggregator = ReputationAggregator([BrandConfig(name="ExampleCo")], config, store=store)
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    results = []
    for i in range(40):
        text = f"ExampleCo refund refused again, write to me zed{i}@mail.example"
        post = Post(id=f"post-zz{i}", source=Source.EXTERNAL, channel="x", text=text, lang="en",
                    author=Author(id=f"authorid-zz{i}", handle=f"@handle{i}", is_employee=i % 2 == 0),
                    created_at=t0 + timedelta(seconds=20 * i))
        results.append(PostResult(post, "FR", findings=[Finding("sentiment", "negative", 0, len(text), -0.8,
                                                                "vader")]))
    aggregator.process(results, [{"topic": "t", "partition": 0, "offset": i} for i in range(40)])
    aggregator.save()
    store.close()
    with sa.create_engine(url).connect() as conn:
        rows = [repr(tuple(r)) for table in (reputation_windows_table, reputation_state_table)
                for r in conn.execute(sa.select(table))]
        volume = conn.execute(sa.select(sa.func.sum(reputation_windows_table.c.volume))).scalar_one()
    assert rows and volume == 40, "the windows counted the posts"
    stored = "\n".join(rows)
    for needle in ("authorid-zz", "@handle", "mail.example", "refund refused again"):
        assert needle not in stored, f"{needle} stored in the reputation tables"
    # What is kept of posts: at most SAMPLE_POSTS example ids per window, for the spike's reviewer.
    kept = {i for i in range(40) if f"'post-zz{i}'" in stored or f'"post-zz{i}"' in stored}
    assert len(kept) <= 5 * 3
