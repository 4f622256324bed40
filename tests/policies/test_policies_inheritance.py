"""Packs inherit along global → eu → fr (and global → uk, global → us); organisations amend them
from their own directory without editing shipped files."""

from __future__ import annotations

import pytest

from policies import load_policy_set
from policies.loader import SHIPPED_DIR


def _ids(plan) -> set[str]:
    return {rule.id for rule in plan.rules}


@pytest.mark.parametrize(
    ("code", "pack", "jurisdiction"),
    [
        ("FR", "fr", "FR"),
        ("fr", "fr", "FR"),
        ("DE", "eu", "EU"),
        ("ES", "eu", "EU"),
        ("EU", "eu", "EU"),
        ("GB", "uk", "GB"),
        ("UK", "uk", "GB"),
        ("US", "us", "US"),
        ("JP", "global", "GLOBAL"),
        ("GLOBAL", "global", "GLOBAL"),
        (None, "global", "GLOBAL"),
        ("RE", "fr", "FR"),
    ],
)
def test_plan_for_maps_codes_to_packs(code, pack, jurisdiction):
    plan = load_policy_set().plan_for(code)
    assert (plan.pack, plan.jurisdiction) == (pack, jurisdiction)


def test_children_see_parents_rules_and_lists():
    policies = load_policy_set()
    assert set(policies.jurisdictions) == {"GLOBAL", "EU", "FR", "GB", "US"}
    global_ids = _ids(policies.plan_for("GLOBAL"))
    eu_ids = _ids(policies.plan_for("EU"))
    fr_ids = _ids(policies.plan_for("FR"))
    # A child has every rule of its parent but those it disables, with the reason kept.
    eu_plan, fr_plan = policies.plan_for("EU"), policies.plan_for("FR")
    assert global_ids - set(eu_plan.disabled) < eu_ids
    assert eu_ids - set(fr_plan.disabled) < fr_ids
    assert "global-special-category-about-person" in eu_plan.disabled
    assert set(eu_plan.disabled) <= set(fr_plan.disabled)
    assert "eu-gdpr-art9-health" in fr_ids and "fr-nir-in-post" in fr_ids
    assert "fr-nir-in-post" not in eu_ids and not any(i.startswith("us-") for i in fr_ids)
    fr_refs = policies.plan_for("FR").detector_plan.lexicon_lists["person_references"]
    eu_refs = policies.plan_for("EU").detector_plan.lexicon_lists["person_references"]
    # fr extends the EU list: everything inherited plus its own additions, parents untouched.
    assert set(eu_refs) < set(fr_refs) and "mon n+1" in fr_refs and "mon n+1" not in eu_refs


def test_overlay_extends_and_replaces_lists_without_touching_shipped_files(write_pack, org_dir):
    shipped_before = {p.name: p.read_bytes() for p in SHIPPED_DIR.glob("*.yaml")}
    write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: global}
        lists:
          brand_names: {extend: [Acme, AcmePay]}
          deal_code_names: {phrases: [project bluebird]}
    """,
    )
    policies = load_policy_set(org_dir)
    for code in ("GLOBAL", "FR", "US"):
        lists = policies.plan_for(code).detector_plan.lexicon_lists
        assert lists["brand_names"] == ("exampleco", "Acme", "AcmePay")
        assert lists["deal_code_names"] == ("project bluebird",)
    assert {p.name: p.read_bytes() for p in SHIPPED_DIR.glob("*.yaml")} == shipped_before
    assert load_policy_set().plan_for("FR").detector_plan.lexicon_lists["deal_code_names"] == (
        "project kestrel",
    )
    assert policies.version != load_policy_set().version


def test_overlay_adds_rules_and_disables_with_a_recorded_reason(write_pack, org_dir):
    write_pack(
        "acme-fr.yaml",
        """
        pack: {id: acme-fr, overlay: fr}
        rules:
          - id: acme-fr-greve
            title: Strike talk
            description: d
            severity: low
            maturity: incubating
            when: {lexicon: confidentiality_markers}
        disable:
          - id: global-slur
            reason: handled by the HR moderation tool in France
    """,
    )
    policies = load_policy_set(org_dir)
    fr = policies.plan_for("FR")
    assert "acme-fr-greve" in _ids(fr) and "global-slur" not in _ids(fr)
    assert fr.disabled["global-slur"] == "handled by the HR moderation tool in France"
    assert fr.disabled.keys() - {"global-slur"} == load_policy_set().plan_for("FR").disabled.keys()
    # Disabling in a child leaves the parent and siblings alone.
    assert "global-slur" in _ids(policies.plan_for("EU")) and "acme-fr-greve" not in _ids(
        policies.plan_for("EU")
    )


def test_disable_in_a_parent_is_inherited(write_pack, org_dir):
    write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: eu}
        disable:
          - {id: global-brand-negative-employee-external, reason: no brand monitoring in the EU}
    """,
    )
    policies = load_policy_set(org_dir)
    assert "global-brand-negative-employee-external" not in _ids(policies.plan_for("FR"))
    assert policies.plan_for("FR").disabled["global-brand-negative-employee-external"] == (
        "no brand monitoring in the EU"
    )
    assert "global-brand-negative-employee-external" in _ids(policies.plan_for("US"))


def test_an_organisation_adds_a_member_state_pack(write_pack, org_dir):
    write_pack(
        "de.yaml",
        """
        pack: {id: de, jurisdiction: DE, extends: eu, description: Germany}
        lists:
          betriebsrat_terms: [betriebsrat]
        rules:
          - id: de-works-council-confidential
            title: Works council confidential matters
            description: d
            severity: medium
            references: ["BetrVG §79"]
            when:
              all: [{lexicon: betriebsrat_terms}, {lexicon: confidentiality_markers}]
            tests:
              match: ["Betriebsrat: confidential"]
              no_match: ["Betriebsrat meeting at 3"]
    """,
    )
    policies = load_policy_set(org_dir)
    assert policies.plan_for("DE").pack == "de"
    assert policies.plan_for("AT").pack == "eu"
    assert "eu-gdpr-art9-health" in _ids(policies.plan_for("DE"))


def test_sandbox_rules_load_only_when_enabled(write_pack, org_dir):
    assert "global-ip-address-external" not in _ids(load_policy_set().plan_for("GLOBAL"))
    assert "global-ip-address-external" in _ids(load_policy_set(include_sandbox=True).plan_for("GLOBAL"))
    write_pack("acme.yaml", "pack: {id: acme, overlay: global}\nenable: [global-ip-address-external]\n")
    plan = load_policy_set(org_dir).plan_for("US")
    assert "global-ip-address-external" in _ids(plan) and "IP_ADDRESS" in plan.detector_plan.pii_entities


def test_loading_is_pure_and_repeatable():
    first, second = load_policy_set(), load_policy_set()
    assert first.version == second.version and len(first.version) == 12
    assert first.plan_for("FR") is not second.plan_for("FR")


def test_the_most_specific_pack_covers_a_code(write_pack, org_dir):
    write_pack(
        "nordics.yaml",
        """
        pack: {id: nordics, jurisdiction: SE, extends: eu, covers: [DK, "NO", FI]}
    """,
    )
    policies = load_policy_set(org_dir)
    assert [policies.plan_for(code).pack for code in ("SE", "DK", "NO", "FI", "DE")] == [
        "nordics",
        "nordics",
        "nordics",
        "nordics",
        "eu",
    ]
