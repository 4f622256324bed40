"""``four_eyes:`` travels from a rule's pack to its alerts; the shipped packs mark the rules where a
second reviewer is what the regulation expects (alerts.levels enforces it when closing)."""

from __future__ import annotations

import pytest

from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from policies.loader import load_policy_set
from policies.post import Author, Post, Source
from policies.schema import RuleSpec

OVERLAY = """
pack: {id: acme, overlay: global}
rules:
  - id: acme-brand-watch
    title: Brand named by an employee
    description: Any post naming the brand; its closures need a second reviewer.
    severity: low
    four_eyes: true
    references: [x]
    when: {lexicon: brand_names}
    tests:
      match: ["exampleco again"]
      no_match: ["nothing"]
"""


def test_four_eyes_reaches_the_alert_and_defaults_to_off(write_pack, org_dir) -> None:
    write_pack("acme.yaml", OVERLAY)
    pipeline = build_pipeline(Settings(_env_file=None, policies_dir=org_dir))
    post = Post(id="x-1", source=Source.EXTERNAL, channel="x", lang="en",
                text="ExampleCo is a terrible, awful employer and I hate it",
                author=Author(id="u-1", is_employee=True, role="employee"))  # fmt: skip
    [result] = pipeline.process([post])
    four_eyes = {alert.rule_id: alert.four_eyes for alert in result.alerts}
    assert four_eyes == {"acme-brand-watch": True, "global-brand-negative-employee-external": False}


def test_four_eyes_must_be_a_boolean() -> None:
    with pytest.raises(ValueError, match="four_eyes"):
        RuleSpec.model_validate(
            {
                "id": "acme-x",
                "title": "t",
                "description": "d",
                "severity": "low",
                "four_eyes": "maybe",
                "when": {"lexicon": "brand_names"},
            }
        )


def test_the_shipped_packs_mark_inside_information_and_promissory_claims() -> None:
    rules = {
        rule.id: rule.spec.four_eyes
        for plan in load_policy_set().plans.values()
        for rule in plan.rules
    }
    for rule_id in (
        "global-insider-information-external",  # MAR Art. 10
        "global-inside-information-disclosure",
        "us-finra-2210-promissory",  # FINRA 2210(d)(1)(B)
        "us-reg-fd-selective-disclosure",
    ):
        assert rules[rule_id] is True, rule_id
    assert rules["global-threat"] is False  # critical, but four eyes are asked for by rule, not by default
