"""Every shipped rule's own tests, through the real detectors (what `veille policies test` runs),
the packs' quality bar, and the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from detectors.registry import build_detectors
from policies import load_policy_set
from policies.cli import app
from policies.runner import run_rule_tests

runner = CliRunner()


@pytest.fixture(scope="module")
def policies():
    return load_policy_set()


def test_every_shipped_rule_passes_its_tests_through_the_real_detectors(policies):
    results = run_rule_tests(policies, build_detectors())
    failures = [f"{r.rule_id} {r.name} ({r.jurisdiction}): {r.detail}" for r in results if not r.passed]
    assert failures == []
    tested = {r.rule_id for r in results}
    assert tested == {rule.id for _, rule in policies.rules()}


def test_packs_meet_the_quality_bar(policies):
    stable = [rule for _, rule in policies.rules() if rule.spec.maturity == "stable"]
    assert len(stable) >= 30
    for rule in stable:
        tests = rule.spec.tests
        assert len(tests.match) >= 2 and len(tests.no_match) >= 2, rule.id
        assert rule.spec.references and rule.spec.remediation, rule.id
    packs = {rule.pack for _, rule in policies.rules()}
    assert packs == {"global", "eu", "fr", "uk", "us"}
    assert any(rule.spec.maturity == "incubating" for _, rule in policies.rules())


def test_cli_check_ok_and_error():
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "5 jurisdiction(s)" in result.output


def test_cli_check_reports_file_and_line(write_pack, org_dir):
    path = write_pack("acme.yaml", "pack: {id: acme, overlay: global}\nlist: {}\n")
    result = runner.invoke(app, ["check", "--policies-dir", str(org_dir)])
    assert result.exit_code == 1
    assert f"{path}:2: unknown key 'list' — did you mean 'lists'?" in result.output


def test_cli_test_one_rule_and_unknown_rule():
    result = runner.invoke(app, ["test", "--rule", "global-threat"])
    assert result.exit_code == 0, result.output
    assert "4/4 cases passed across 1 rule(s)" in result.output
    assert runner.invoke(app, ["test", "--rule", "no-such-rule"]).exit_code == 2


def test_cli_test_fails_on_a_wrong_expectation(write_pack, org_dir):
    write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: global}
        rules:
          - id: acme-wrong
            title: t
            description: d
            severity: low
            references: [x]
            sources: [external]
            when: {lexicon: confidentiality_markers}
            tests:
              match: ["nothing to see here"]
              no_match: ["internal only"]
    """,
    )
    result = runner.invoke(app, ["test", "--rule", "acme-wrong", "--policies-dir", str(org_dir)])
    assert result.exit_code == 1
    assert "0/2 cases passed" in result.output and "FAIL" in result.output


def test_cli_explain_shows_rules_clauses_and_spans():
    text = "Ma collègue est enceinte, c'est confidentiel"
    result = runner.invoke(
        app, ["explain", "--jurisdiction", "FR", "--source", "external", "--lang", "fr", text]
    )
    assert result.exit_code == 0, result.output
    assert "pack fr (FR)" in result.output
    assert "eu-gdpr-art9-health [high] Health data about an identifiable person" in result.output
    assert "eu-gdpr-art9-health" in result.output and "global-confidential-marker-external" in result.output
    assert (
        "because near health_terms 'enceinte' and person_references 'ma collègue' "
        "(1 word apart, at most 12, same sentence)"
    ) in result.output
    assert "lexicon:health_terms 'enceinte'" in result.output
    # The person reference decided the Art. 9 rules: NER was not needed.
    assert "skipped (no rule needs them): " in result.output and "ner" in result.output.split("skipped")[1]


def test_cli_list():
    result = runner.invoke(app, ["list", "--jurisdiction", "GB"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "GB (pack uk)" in result.output and "uk-fca-crypto-without-risk-warning" in result.output
    assert "global-secret-key-in-post" in result.output and "us-finra" not in result.output
