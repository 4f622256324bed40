"""Compiled plans: the detector plan holds exactly what the rules need, and needs() skips the costly
NER detector whenever cheap predicates have already decided every rule that reads it."""

from __future__ import annotations

import pytest

from detectors.base import Finding
from policies import load_policy_set
from policies.predicates import Context


@pytest.fixture(scope="module")
def policies():
    return load_policy_set()


def lex(list_name: str, text: str, phrase: str) -> Finding:
    start = text.lower().index(phrase.lower())
    return Finding(
        "lexicon", list_name, start, start + len(phrase), 1.0, "LexiconMatcher", {"phrase": phrase}
    )


@pytest.mark.parametrize("code", ["GLOBAL", "US", "GB"])
def test_ner_runs_only_behind_a_cheaper_signal(policies, make_post, code):
    plan = policies.plan_for(code)
    # A name matters to these plans only as the target of harassment the classifier read (and in the
    # US as a patient next to health words): NER is in the plan...
    assert "ner" in plan.detector_plan.detectors and "LOCATION" not in plan.detector_plan.pii_entities
    assert {"pattern", "lexicon", "pii", "sentiment", "classifier"} <= plan.detector_plan.detectors
    # ...but a post the cheaper detectors found nothing in never reaches it.
    post = make_post("Marie Dupont presents the results tomorrow", source="internal", channel="teams")
    assert not plan.needs("ner", post, [])


def test_detector_plan_lists_exactly_what_rules_need(policies):
    eu = policies.plan_for("EU").detector_plan
    assert "ner" in eu.detectors and "PERSON" in eu.pii_entities
    assert "US_SSN" not in eu.pii_entities and "US_SSN" in policies.plan_for("US").detector_plan.pii_entities
    assert "investment_terms" in policies.plan_for("US").detector_plan.lexicon_lists
    assert "investment_terms" not in eu.lexicon_lists
    assert eu.sentiment and eu.patterns == policies.plan_for("GLOBAL").detector_plan.patterns


def test_empty_lists_are_not_sent_to_the_detector(write_pack, org_dir):
    write_pack("acme.yaml", "pack: {id: acme, overlay: global}\nlists:\n  deal_code_names: {phrases: []}\n")
    plan = load_policy_set(org_dir).plan_for("GLOBAL")
    assert "deal_code_names" not in plan.detector_plan.lexicon_lists
    assert "confidentiality_markers" in plan.detector_plan.lexicon_lists
    # A rule over an empty list is decided at once: it never makes a detector run.
    [rule] = [r for r in plan.rules if r.id == "global-deal-code-name-external"]
    assert rule.detectors == frozenset()


def test_needs_ner_false_when_no_special_category_phrase(policies, make_post):
    fr = policies.plan_for("FR")
    post = make_post("Marie Dupont présente les résultats demain", source="internal", channel="teams")
    # Before the lexicon ran, any Art. 9 rule could still match: NER might matter.
    assert fr.needs("ner", post, [], ran=set())
    # After the cheap detectors ran and found no special-category phrase, every NER rule is decided False.
    assert not fr.needs("ner", post, [])


def test_needs_ner_true_only_while_a_person_is_still_undecided(policies, make_post):
    fr = policies.plan_for("FR")
    text = "Marie Dupont est enceinte"
    post = make_post(text, source="internal", channel="teams")
    health = lex("health_terms", text, "enceinte")
    assert fr.needs("ner", post, [health])
    # A pointing phrase already satisfies "an identifiable person": the rule is decided True without NER.
    text2 = "Ma collègue est enceinte"
    post2 = make_post(text2, source="internal", channel="teams")
    decided = [lex("health_terms", text2, "enceinte"), lex("person_references", text2, "Ma collègue")]
    assert not fr.needs("ner", post2, decided)


def test_needs_false_for_detectors_outside_the_plan_and_for_source_gated_rules(policies, make_post):
    us = policies.plan_for("US")
    post = make_post("hello", source="internal", channel="teams")
    assert not us.needs("ner", post, [])
    # The brand rule is external-only: on an internal post sentiment cannot change any outcome.
    assert not us.needs("sentiment", post, [])
    assert us.needs(
        "sentiment", make_post("hello exampleco"), [lex("brand_names", "hello exampleco", "exampleco")]
    )
    # An external post by a non-employee: every sentiment rule is about employees, so all are decided.
    assert not us.needs("sentiment", make_post("hello exampleco", role="customer", is_employee=False), [])
    # The incubating (shadow) rule reads sentiment on any external employee post: shadow rules count too.
    assert us.needs("sentiment", make_post("hello"), [])


def test_three_valued_not_and_any(write_pack, org_dir, make_post):
    write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: eu}
        rules:
          - id: acme-not-person
            title: t
            description: d
            severity: low
            maturity: incubating
            when:
              all:
                - lexicon: confidentiality_markers
                - not: {pii: [PERSON]}
    """,
    )
    eu = load_policy_set(org_dir).plan_for("EU")
    [rule] = [r for r in eu.rules if r.id == "acme-not-person"]
    text = "confidential"
    post = make_post(text)
    marker = [lex("confidentiality_markers", text, "confidential")]
    assert rule.outcome(Context(post, marker, {"pattern", "lexicon", "pii"})) is None
    assert rule.outcome(Context(post, marker, {"pattern", "lexicon", "pii", "ner"})) is True
    person = Finding("pii", "PERSON", 0, 4, 0.85, "SpacyRecognizer")
    assert rule.outcome(Context(post, [*marker, person], {"lexicon", "ner"})) is False
    assert rule.outcome(Context(post, [], {"lexicon"})) is False
    assert eu.needs("ner", post, marker)
    assert not eu.needs("ner", post, [])
