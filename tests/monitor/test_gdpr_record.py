"""`veille gdpr record|dpia|notice`: generated from a test configuration, exactly, and changed by it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.gdpr import ALWAYS_PROCESSED, gather_facts
from monitor.gdpr_render import render_dpia, render_notice, render_record
from monitor.settings import Settings
from policies.loader import load_policy_set

GLOBAL = """
pack: {id: global, jurisdiction: GLOBAL}
rules:
  - {id: t-secret, title: Secret, description: d, severity: high, maturity: incubating, sources: [internal],
     purpose: information_security, when: {pattern: [AWS_ACCESS_KEY]}}
  - {id: t-email, title: E-mail, description: d, severity: low, maturity: incubating, sources: [external],
     purpose: regulatory_supervision, when: {pii: [EMAIL_ADDRESS]}}
"""
FR = """
pack: {id: fr, jurisdiction: FR, extends: global}
pseudonymise_authors: true
personal: {skip: true, prefixes: ["[perso]"], flags: [personal], channels: [perso-chat]}
rules:
  - {id: t-nir, title: NIR, description: d, severity: critical, maturity: incubating,
     purpose: regulatory_supervision, tags: [special-category], when: {pii: [FR_NIR]}}
"""


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    shipped = tmp_path / "packs"
    shipped.mkdir()
    (shipped / "global.yaml").write_text(GLOBAL)
    (shipped / "fr.yaml").write_text(FR)
    return shipped


def _settings() -> Settings:
    return Settings(_env_file=None, retention_days={"FR": 365, "*": 730}, brands=[],
                    webhook_urls=["https://hooks.example/veille"], input_topics=["in.internal"],
                    channel_jurisdictions={"teams-paris": "FR"})


def test_record_lists_exactly_the_configured_purposes_data_and_retention(packs: Path) -> None:
    facts = gather_facts(_settings(), load_policy_set(shipped_dir=packs))
    assert [(p.name, p.rules) for p in facts.purposes] == [
        ("regulatory_supervision", ["t-email", "t-nir"]), ("information_security", ["t-secret"])]
    assert facts.data_categories == [
        *ALWAYS_PROCESSED,
        "contact details (e-mail address)",
        "national identification number (French NIR)",
        "credentials and secrets (AWS_ACCESS_KEY)",
    ]
    assert facts.special_categories == ["NIR"]
    assert facts.data_subjects == ["employees writing on internal channels",
                                   "employees and external people posting on public channels",
                                   "third parties whose data appears in a message"]
    assert [(r.jurisdiction, r.days, r.mode) for r in facts.retention] == [
        ("GLOBAL", 730, "anonymise"), ("FR", 365, "anonymise")]
    assert "signed webhook hooks.example" in facts.recipients
    assert "TLS on connections to: webhook hooks.example" in facts.security_measures
    fr = next(j for j in facts.jurisdictions if j.code == "FR")
    assert fr.skips_personal_messages and fr.pseudonymises_authors
    assert fr.personal_markers == ["[perso]", "metadata.personal"] and fr.personal_channels == ["perso-chat"]
    assert facts.sampling == []

    record = render_record(facts)
    for line in ("### regulatory_supervision", "- rules (2): t-email, t-nir", "| FR | 365 | anonymise |",
                 "- contact details (e-mail address)"):
        assert line in record
    assert "### reputation" not in record, "no rule of that purpose is active"


def test_record_changes_when_a_rule_is_disabled(packs: Path, tmp_path: Path) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "org.yaml").write_text(
        "pack: {id: org, overlay: fr}\ndisable: [{id: t-nir, reason: no NIR here}]\n"
    )
    before = gather_facts(_settings(), load_policy_set(shipped_dir=packs))
    after = gather_facts(_settings(), load_policy_set(org, shipped_dir=packs))
    assert "national identification number (French NIR)" in before.data_categories
    assert "national identification number (French NIR)" not in after.data_categories
    assert [(p.name, p.rules) for p in after.purposes] == [
        ("regulatory_supervision", ["t-email"]), ("information_security", ["t-secret"])]
    assert after.special_categories == []
    assert render_record(before) != render_record(after)


def test_regulatory_retention_shorter_than_the_regulation_is_flagged() -> None:
    # The shipped packs' periods: US and GB are regulatory minimums (SEC 17a-4, FCA SYSC 10A).
    shipped = gather_facts(Settings(_env_file=None), load_policy_set())
    assert all(r.conflict is None for r in shipped.retention)
    by_code = {r.jurisdiction: r for r in shipped.retention}
    assert (by_code["US"].days, by_code["US"].required_days) == (1095, 1095)
    assert by_code["EU"].required_days is None, "GDPR storage limitation is a maximum, not a minimum"
    short = gather_facts(Settings(_env_file=None, retention_days={"US": 730, "GB": 1825, "*": 30}),
                         load_policy_set())
    by_code = {r.jurisdiction: r for r in short.retention}
    assert by_code["US"].conflict and "1095" in by_code["US"].conflict
    assert by_code["GB"].conflict is None and by_code["GLOBAL"].conflict is None
    assert "shorter than the 1095 days" in render_record(short)


def test_dpia_and_notice_come_from_the_same_facts(packs: Path) -> None:
    facts = gather_facts(_settings(), load_policy_set(shipped_dir=packs))
    dpia = render_dpia(facts)
    assert "- topic in.internal" in dpia and "- channel teams-paris → FR" in dpia
    assert ("- FR: 3 rules; personal messages skipped (markers: [perso], metadata.personal; channels: "
            "perso-chat); authors pseudonymised for reviewers") in dpia
    assert "- GLOBAL: 2 rules; personal messages analysed" in dpia
    assert "## Sampling of messages that raised no alert\n- not configured" in dpia
    fr, en = render_notice(facts, "fr"), render_notice(facts, "en")
    assert "En FR, un message que vous identifiez comme personnel n'est pas analysé" in fr
    assert "FR : 365 jours, puis anonymisation" in fr and "FR: 365 days, then anonymise" in en
    # The French notice speaks French, the facts' own words included.
    assert "- coordonnées (adresse électronique)" in fr and "- contact details (e-mail address)" in en
    assert "contact details" not in fr and "identifiants et secrets (AWS_ACCESS_KEY)" in fr
    assert "In FR, reviewers see a pseudonym" in en


def test_cli_markdown_json_and_errors() -> None:
    runner = CliRunner()
    record = runner.invoke(app, ["gdpr", "record"])
    assert record.exit_code == 0, record.output
    assert record.output.startswith("# Record of processing activities (GDPR art. 30)")
    as_json = json.loads(runner.invoke(app, ["gdpr", "record", "--json"]).output)
    assert {p["name"] for p in as_json["purposes"]} == {
        "regulatory_supervision", "information_security", "reputation"}
    assert runner.invoke(app, ["gdpr", "dpia"]).exit_code == 0
    assert "Note d'information" in runner.invoke(app, ["gdpr", "notice", "--lang", "fr"]).output
    bad = runner.invoke(app, ["gdpr", "notice", "--lang", "de"])
    assert bad.exit_code == 2 and "de" in bad.output


def test_dpia_lists_the_sampling_populations_of_the_packs_in_force(packs: Path, tmp_path: Path) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "org.yaml").write_text(
        "pack: {id: org, overlay: fr}\n"
        "sampling:\n"
        "  - {population: fr_traders, percent: 5, author_role: [trader], source: internal}\n"
        "  - {population: fr_rest, percent: 0.5}\n"
    )
    facts = gather_facts(_settings(), load_policy_set(org, shipped_dir=packs))
    assert facts.sampling == [
        "FR: population fr_traders (author role trader; source internal): 5 % of the posts that raised no "
        "alert, drawn at random for a reviewer",
        "FR: population fr_rest (every post): 0.5 % of the posts that raised no alert, drawn at random "
        "for a reviewer",
    ]
    assert "- FR: population fr_traders" in render_dpia(facts)
    assert gather_facts(_settings(), load_policy_set(shipped_dir=packs)).sampling == []
