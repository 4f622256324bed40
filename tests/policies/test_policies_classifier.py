"""The ``classifier`` predicate: validated like every name, evaluated three-valued, run only where a
rule still needs it (in one batch per detector pass), explained with its phrases and threshold, and
its model's hash part of the policy version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from detectors.classifier import shipped_artefact_sha256, shipped_classifier
from detectors.registry import build_detectors
from policies import PolicyError, load_policy_set
from policies.engine import detect

PROMISE = "Give me 50k and I promise you'll have 80k in two years, no downside whatsoever."

# A whole set of packs of its own (``shipped_dir``), so that no shipped rule reads the classifier too.
PACK = """
pack: {id: global, jurisdiction: GLOBAL}
rules:
  - id: acme-rep-promise
    title: Promise by a representative
    description: d
    severity: high
    sources: [external]
    references: [FINRA 2210]
    when:
      all:
        - author: {role: [registered_rep]}
        - classifier: {label: promissory_claim, min_score: 0.52}  # off the trainer's 0.05 grid
    tests:
      match:
        - {text: "PROMISE", role: registered_rep}
      no_match:
        - {text: "PROMISE", role: public, is_employee: false}
""".replace("PROMISE", PROMISE)


class CountingDetectors:
    """The real detectors; records how many posts each pass is handed."""

    def __init__(self) -> None:
        self.detectors = build_detectors()
        self.batches: dict[str, list[int]] = {}
        for detector in self.detectors:
            detector.detect = self._counting(detector.name, detector.detect)  # type: ignore[method-assign]

    def _counting(self, name, inner):
        def detect(posts, plan):
            self.batches.setdefault(name, []).append(len(posts))
            return inner(posts, plan)

        return detect


ANY_PROMISE = """
  - id: acme-any-promise
    title: Any promise
    description: d
    severity: low
    maturity: incubating
    sources: [external]
    when:
      classifier: promissory_claim
"""


def _packs(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "packs"
    directory.mkdir(exist_ok=True)
    (directory / "global.yaml").write_text(text.lstrip("\n"), encoding="utf-8")
    return directory


def _load(tmp_path: Path, text: str = PACK):
    return load_policy_set(shipped_dir=_packs(tmp_path, text))


def test_floors_are_the_lowest_a_rule_asks_for_and_default_to_the_model_threshold(tmp_path):
    plan = _load(tmp_path).plan_for("GLOBAL")
    assert plan.detector_plan.classifier_min_scores == {"promissory_claim": 0.52}
    assert "classifier" in plan.detector_plan.detectors
    threshold = shipped_classifier().thresholds["promissory_claim"]
    plan = _load(tmp_path, PACK.replace("min_score: 0.52", "min_score: 0.9") + ANY_PROMISE).plan_for("GLOBAL")
    assert plan.detector_plan.classifier_min_scores == {"promissory_claim": min(0.9, threshold)}


def test_the_classifier_runs_only_on_posts_a_rule_still_needs_it_for_in_one_batch(tmp_path, make_post):
    plan = _load(tmp_path).plan_for("GLOBAL")
    rep = make_post(PROMISE, role="registered_rep", lang="en")
    public = make_post(PROMISE, role="public", is_employee=False, lang="en")
    internal = make_post(PROMISE, role="registered_rep", source="internal", channel="teams", lang="en")
    assert plan.needs("classifier", rep, []) and not plan.needs("classifier", public, [])
    assert not plan.needs("classifier", internal, [])
    counting = CountingDetectors()
    findings, skipped = detect(plan, [rep, public, internal, rep], counting.detectors)
    assert counting.batches["classifier"] == [2]
    assert "classifier" in skipped[1] and "classifier" not in skipped[0]
    assert [hit.rule_id for hit in plan.evaluate(rep, findings[0])] == ["acme-rep-promise"]
    assert plan.evaluate(public, findings[1]) == []
    # A rule that reads the classifier on every external post makes it run on the public's too.
    wider = _load(tmp_path, PACK + ANY_PROMISE).plan_for("GLOBAL")
    assert wider.needs("classifier", public, []) and not wider.needs("classifier", internal, [])


def test_the_clause_names_the_phrases_and_the_score_against_the_threshold(tmp_path, make_post):
    plan = _load(tmp_path).plan_for("GLOBAL")
    post = make_post(PROMISE, role="registered_rep", lang="en")
    findings, _ = detect(plan, [post], build_detectors())
    [hit] = [h for h in plan.evaluate(post, findings[0]) if h.rule_id == "acme-rep-promise"]
    [clause] = [c for c in hit.clauses if c.startswith("classifier promissory_claim")]
    [finding] = [f for f in hit.findings if f.detector == "classifier"]
    assert f"{finding.score:.2f} >= 0.52" in clause
    assert f"model threshold {shipped_classifier().thresholds['promissory_claim']:.2f}" in clause
    phrases = finding.extra["phrases"]
    assert phrases and f"'{phrases[0]['phrase']}' +{phrases[0]['weight']:.2f}" in clause


def test_personal_data_in_a_driving_phrase_is_masked_in_the_clause(tmp_path, make_post):
    policies = _load(
        tmp_path,
        """
pack: {id: global, jurisdiction: GLOBAL}
rules:
  - id: acme-mail
    title: t
    description: d
    severity: low
    maturity: incubating
    when:
      all:
        - pii: [EMAIL_ADDRESS]
        - classifier: {label: promissory_claim, min_score: 0.0}
""",
    )
    plan = policies.plan_for("GLOBAL")
    post = make_post("guaranteed 20% a year, write to promise.profits@example.com", lang="en")
    findings, _ = detect(plan, [post], build_detectors())
    [hit] = [h for h in plan.evaluate(post, findings[0]) if h.rule_id == "acme-mail"]
    [clause] = [c for c in hit.clauses if c.startswith("classifier")]
    assert "example.com" not in clause and "promise.profits" not in clause


def test_unknown_label_is_an_error_with_line_and_suggestion(write_pack, org_dir):
    body = PACK.replace("pack: {id: global, jurisdiction: GLOBAL}", "pack: {id: acme, overlay: global}")
    path = write_pack("acme.yaml", body.replace("label: promissory_claim,", "label: promisory_claim,"))
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    [error] = caught.value.errors
    assert str(error).startswith(
        f"{path}:12: rule acme-rep-promise: unknown classifier label 'promisory_claim'"
    )
    assert "did you mean 'promissory_claim'?" in str(error)
    misspelt = ANY_PROMISE.replace("classifier: promissory_claim", "classifier: pumpin")
    path = write_pack("acme.yaml", body + misspelt)
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    [error] = caught.value.errors
    assert str(error).startswith(f"{path}:26: rule acme-any-promise: unknown classifier label 'pumpin'")
    assert "did you mean 'pumping'?" in str(error)


def test_a_score_out_of_range_is_refused_at_its_line(write_pack, org_dir):
    body = PACK.replace("pack: {id: global, jurisdiction: GLOBAL}", "pack: {id: acme, overlay: global}")
    path = write_pack("acme.yaml", body.replace("min_score: 0.52", "min_score: 1.5"))
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    assert f"{path}:12" in str(caught.value) and "less than or equal to 1" in str(caught.value)


def test_the_policy_version_includes_the_model(monkeypatch, tmp_path):
    policies = _load(tmp_path)
    assert policies.model_sha256 == shipped_artefact_sha256()
    monkeypatch.setattr("policies.loader.shipped_artefact_sha256", lambda: "0" * 64)
    other = _load(tmp_path)
    assert other.version != policies.version and other.model_sha256 == "0" * 64


def test_explain_names_the_phrases_and_the_threshold():
    from typer.testing import CliRunner

    from policies.cli import app

    result = CliRunner().invoke(
        app, ["explain", "-j", "US", "--role", "registered_rep", "--lang", "en", PROMISE]
    )
    assert result.exit_code == 0, result.output
    threshold = shipped_classifier().thresholds["promissory_claim"]
    assert "us-finra-2210-promissory" in result.output
    assert "because classifier promissory_claim " in result.output and "driven by '" in result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith("classifier:"))
    assert f"model threshold {threshold:.2f}; phrases '" in line
    # Every phrase shown is a slice of the post at the offsets given.
    for phrase, span in re.findall(r"'([^']+)' (\d+-\d+) \+", line):
        start, end = map(int, span.split("-"))
        assert PROMISE[start:end] == phrase
