"""Sampling populations in pack files: validated with file, line and fix; resolved along `extends` and
overlays; the first population that matches a post is its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError, load_policy_set
from tests.policies.conftest import post


def _errors(org_dir: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    return [str(error) for error in caught.value.errors]


def test_populations_resolve_child_first_and_a_child_redefines_an_inherited_one(write_pack, org_dir):
    write_pack("acme-global.yaml", """
        pack: {id: acme_global, overlay: global}
        sampling:
          - population: everyone_else
            percent: 1
          - population: reps_external
            percent: 5
            author_role: registered_rep
            source: [external]
    """)
    write_pack("acme-us.yaml", """
        pack: {id: acme_us, overlay: us}
        sampling:
          - population: us_reps
            percent: 30
            author_role: [registered_rep]
    """)
    write_pack("acme-us-more.yaml", """
        pack: {id: acme_us_more, overlay: us}
        sampling:
          - population: everyone_else
            percent: 0
    """)
    policies = load_policy_set(org_dir)
    us = policies.plan_for("US")
    # Own (us: its overlays in file order) first, then what global gives and us does not redefine.
    assert [(p.name, p.percent) for p in us.sampling] == [
        ("everyone_else", 0.0), ("us_reps", 30.0), ("reps_external", 5.0)
    ]
    assert [p.name for p in policies.plan_for("GLOBAL").sampling] == ["everyone_else", "reps_external"]
    # fr inherits global's through eu, untouched by the us overlays.
    assert [(p.name, p.percent) for p in policies.plan_for("FR").sampling] == [
        ("everyone_else", 1.0), ("reps_external", 5.0)
    ]
    rep = post("hello", role="registered_rep", source="external")
    assert us.population_for(rep, "US").name == "everyone_else"
    assert us.population_for(rep, "US").percent == 0
    # In global, "everyone_else" comes first and matches everybody: order decides, not specificity.
    assert policies.plan_for("GLOBAL").population_for(rep, "GLOBAL").name == "everyone_else"


def test_criteria_must_all_match_and_jurisdiction_is_the_posts_own(write_pack, org_dir):
    write_pack("acme-eu.yaml", """
        pack: {id: acme_eu, overlay: eu}
        sampling:
          - population: de_teams_internal
            percent: 10
            channel: [teams]
            source: internal
            jurisdiction: [DE]
    """)
    eu = load_policy_set(org_dir).plan_for("DE")
    assert eu.jurisdiction == "EU"
    match = post("x", channel="teams", source="internal")
    assert eu.population_for(match, "DE") is not None
    assert eu.population_for(match, "AT") is None  # same pack, another member state
    assert eu.population_for(post("x", channel="slack", source="internal"), "DE") is None
    assert eu.population_for(post("x", channel="teams", source="external"), "DE") is None


def test_shipped_packs_sample_nothing():
    # Sampling is an organisation's decision (its populations and rates): none is imposed by default.
    policies = load_policy_set()
    assert all(not plan.sampling for plan in policies.plans.values())


def test_a_rate_outside_0_to_100_names_file_line_and_population(write_pack, org_dir):
    path = write_pack("acme.yaml", """
        pack: {id: acme, overlay: global}
        sampling:
          - population: reps
            percent: 150
    """)
    (error,) = _errors(org_dir)
    assert error.startswith(f"{path}:4: sampling population reps: percent: ")
    assert "less than or equal to 100" in error


def test_an_unknown_key_lists_the_allowed_ones(write_pack, org_dir):
    path = write_pack("acme.yaml", """
        pack: {id: acme, overlay: global}
        sampling:
          - population: reps
            rate: 5
    """)
    missing, unknown = _errors(org_dir)
    assert unknown.startswith(f"{path}:4: sampling population reps: unknown key 'rate'")
    for key in ("percent", "author_role", "channel", "source", "jurisdiction"):
        assert key in unknown
    assert missing.startswith(f"{path}:3: sampling population reps: missing required key 'percent'")


@pytest.mark.parametrize(
    ("entry", "line", "expected"),
    [
        ("{population: Reps-US, percent: 5}", 3, "invalid population 'Reps-US' — population names are "
         "lower_snake_case"),
        ("{population: reps, percent: 5, source: [social]}", 3, "sampling population reps: invalid value"),
        ("{population: reps, percent: 5, jurisdiction: [france]}", 3, "'france' is not a jurisdiction code"),
        ("{percent: 5}", 3, "missing required key 'population'"),
        ("{population: reps}", 3, "missing required key 'percent'"),
    ],
)
def test_malformed_entries_are_refused_precisely(write_pack, org_dir, entry, line, expected):
    path = write_pack("acme.yaml", f"""
        pack: {{id: acme, overlay: global}}
        sampling:
          - {entry}
    """)
    (error,) = _errors(org_dir)
    assert error.startswith(f"{path}:{line}:"), error
    assert expected in error, error


def test_a_population_twice_in_one_file_names_both_lines(write_pack, org_dir):
    path = write_pack("acme.yaml", """
        pack: {id: acme, overlay: global}
        sampling:
          - population: reps
            percent: 5
          - population: reps
            percent: 7
    """)
    (error,) = _errors(org_dir)
    assert error.startswith(f"{path}:5: sampling population 'reps' is already defined at {path}:3")


def test_two_overlays_of_one_pack_defining_one_population_are_refused(write_pack, org_dir):
    first = write_pack("acme-a.yaml", """
        pack: {id: acme_a, overlay: us}
        sampling:
          - {population: reps, percent: 5}
    """)
    second = write_pack("acme-b.yaml", """
        pack: {id: acme_b, overlay: us}
        sampling:
          - {population: reps, percent: 7}
    """)
    (error,) = _errors(org_dir)
    assert error.startswith(f"{second}:3: sampling population 'reps' is already defined at {first}:3")
