"""Plan.evaluate: near, not, exceptions, author and channel, shadow mode, and the recorded why."""

from __future__ import annotations

import pytest

from detectors.base import Finding
from policies import RuleHit, load_policy_set

PACK = """
pack: {id: acme, overlay: global}
lists:
  promises: [guaranteed returns, risk-free]
  products: [fund, bond]
  warnings: [capital at risk]
rules:
  - id: acme-near
    title: Promise near a product
    description: d
    severity: high
    sources: [external]
    references: [x]
    when:
      all:
        - near: {a: promises, b: products, within: 3}
        - author: {role: [registered_rep]}
    exceptions:
      - name: warning_present
        when: {lexicon: warnings}
    remediation: take it down
    tests: {match: [a], no_match: [b]}
  - id: acme-not-channel
    title: Product outside the IR site
    description: d
    severity: low
    maturity: incubating
    when:
      all:
        - lexicon: products
        - not: {channel: [ir_site]}
        - author: {is_employee: true}
  - id: acme-lang-pii
    title: Two French e-mails
    description: d
    severity: low
    maturity: incubating
    when:
      all:
        - lang: [fr]
        - pii: {entities: [EMAIL_ADDRESS], min_score: 0.5, min_count: 2}
  - id: acme-sentence
    title: Promise and a product in one sentence
    description: d
    severity: low
    maturity: incubating
    when:
      near: {a: promises, b: products, within: 20, sentence: true}
  - id: acme-person
    title: Promise near a name
    description: d
    severity: low
    maturity: incubating
    when:
      near: {a: promises, entities: [PERSON], within: 4, sentence: true}
  - id: acme-secret
    title: Secret
    description: d
    severity: critical
    sources: [internal]
    references: [x]
    when: {pattern: PASSWORD_IN_TEXT}
    tests: {match: [a], no_match: [b]}
"""


@pytest.fixture
def plan(write_pack, org_dir):
    write_pack("acme.yaml", PACK)
    return load_policy_set(org_dir).plan_for("GLOBAL")


def lex(list_name: str, text: str, phrase: str) -> Finding:
    start = text.lower().index(phrase.lower())
    return Finding(
        "lexicon", list_name, start, start + len(phrase), 1.0, "LexiconMatcher", {"phrase": phrase}
    )


def hits(plan, post, findings) -> dict[str, RuleHit]:
    return {hit.rule_id: hit for hit in plan.evaluate(post, findings) if hit.rule_id.startswith("acme-")}


def test_near_within_and_beyond_the_window(plan, make_post):
    close = "Guaranteed returns on this fund"
    far = "Guaranteed returns, as everybody at the office knows, on this fund"
    for text, expected in ((close, True), (far, False)):
        post = make_post(text, role="registered_rep")
        found = [lex("promises", text, "guaranteed returns"), lex("products", text, "fund")]
        assert ("acme-near" in hits(plan, post, found)) is expected, text


def test_near_records_clauses_and_evidence(plan, make_post):
    text = "Risk-free! Our bond pays well"
    post = make_post(text, role="registered_rep")
    found = [lex("promises", text, "risk-free"), lex("products", text, "bond")]
    hit = hits(plan, post, found)["acme-near"]
    assert hit.clauses == (
        "source external",
        "near promises 'risk-free' and products 'bond' (1 word apart, at most 3)",
        "author role registered_rep",
    )
    assert hit.findings == tuple(found)
    assert (hit.severity, hit.maturity, hit.shadow) == ("high", "stable", False)
    assert hit.remediation == "take it down" and hit.references == ("x",)


def test_exception_suppresses_and_author_role_gates(plan, make_post):
    text = "Guaranteed returns on this fund. Capital at risk."
    found = [
        lex("promises", text, "guaranteed returns"),
        lex("products", text, "fund"),
        lex("warnings", text, "capital at risk"),
    ]
    assert "acme-near" not in hits(plan, make_post(text, role="registered_rep"), found)
    assert (
        plan.explain(make_post(text, role="registered_rep"), found)[
            [r.id for r in plan.rules].index("acme-near")
        ][2]
        == "warning_present"
    )
    text2 = "Guaranteed returns on this fund"
    found2 = found[:2]
    assert "acme-near" not in hits(plan, make_post(text2, role="employee"), found2)
    assert "acme-near" not in hits(plan, make_post(text2, role="registered_rep", source="internal"), found2)


def test_not_channel_and_shadow_mode(plan, make_post):
    text = "Our fund report"
    found = [lex("products", text, "fund")]
    hit = hits(plan, make_post(text, channel="linkedin"), found)["acme-not-channel"]
    assert hit.shadow and hit.maturity == "incubating"
    assert "not channel in [ir_site]" in hit.clauses
    assert "acme-not-channel" not in hits(plan, make_post(text, channel="ir_site"), found)
    assert "acme-not-channel" not in hits(plan, make_post(text, channel="linkedin", is_employee=False), found)


def test_secret_clauses_never_quote_the_secret(plan, make_post):
    text = "password: Tr0ub4dor&3"
    secret = Finding("pattern", "PASSWORD_IN_TEXT", 10, 21, 0.7, "PasswordInTextPattern")
    hit = hits(plan, make_post(text, source="internal", channel="teams"), [secret])["acme-secret"]
    assert hit.clauses == ("source internal", "pattern PASSWORD_IN_TEXT (chars 10-21)")
    assert "Tr0ub4dor" not in " ".join(hit.clauses)
    assert hit.findings == (secret,)


def test_shipped_rules_on_synthetic_findings(make_post):
    policies = load_policy_set()
    text = "Ma collègue est enceinte"
    post = make_post(text, source="internal", channel="teams", jurisdiction="FR")
    found = [lex("health_terms", text, "enceinte"), lex("person_references", text, "Ma collègue")]
    fr_hits = {h.rule_id for h in policies.plan_for("FR").evaluate(post, found)}
    assert fr_hits == {"eu-gdpr-art9-health"}
    assert policies.plan_for("US").evaluate(post, found) == []


def test_lang_and_pii_thresholds(plan, make_post):
    text = "a@example.com b@example.com"
    strong = [Finding("pii", "EMAIL_ADDRESS", 0, 13, 1.0), Finding("pii", "EMAIL_ADDRESS", 14, 27, 0.9)]
    weak = [strong[0], Finding("pii", "EMAIL_ADDRESS", 14, 27, 0.3)]
    hit = hits(plan, make_post(text, lang="fr"), strong)["acme-lang-pii"]
    assert hit.findings == tuple(strong) and "lang fr" in hit.clauses
    assert "pii EMAIL_ADDRESS (score 0.90, chars 14-27)" in hit.clauses
    assert "acme-lang-pii" not in hits(plan, make_post(text, lang="fr"), weak)
    assert "acme-lang-pii" not in hits(plan, make_post(text, lang="en"), strong)
    assert "acme-lang-pii" not in hits(plan, make_post(text), strong)


def test_nested_phrases_of_one_list_count_once(make_post):
    plan = load_policy_set().plan_for("GLOBAL")
    text = "strictement confidentiel"
    found = [
        lex("confidentiality_markers", text, "strictement confidentiel"),
        lex("confidentiality_markers", text, "confidentiel"),
    ]
    [hit] = [
        h for h in plan.evaluate(make_post(text), found) if h.rule_id == "global-confidential-marker-external"
    ]
    assert hit.clauses == ("source external", "lexicon confidentiality_markers: 'strictement confidentiel'")
    assert hit.findings == (found[0],)


def test_near_in_one_sentence(plan, make_post):
    for text, expected in (
        ("Guaranteed returns, and I mean it, on this fund", True),
        ("Guaranteed returns! Ask about this fund", False),
        ("Guaranteed returns\nthe fund", False),
    ):
        found = [lex("promises", text, "guaranteed returns"), lex("products", text, "fund")]
        assert ("acme-sentence" in hits(plan, make_post(text), found)) is expected, text


def test_near_a_person_is_decided_without_ner_when_the_phrase_is_absent(plan, make_post):
    text = "Risk-free, says Marie Dupont. Ask Paul Martin later about it."
    post = make_post(text)
    promise = lex("promises", text, "risk-free")
    marie = Finding("pii", "PERSON", text.index("Marie"), text.index("Marie") + 12, 0.85, "SpacyRecognizer")
    paul = Finding("pii", "PERSON", text.index("Paul"), text.index("Paul") + 11, 0.85, "SpacyRecognizer")
    # No phrase of the list: decided without NER...
    assert not plan.needs("ner", make_post("Ask Paul Martin"), [])
    # ...a phrase and no NER yet: NER still matters.
    assert plan.needs("ner", post, [promise])
    hit = hits(plan, post, [promise, marie])["acme-person"]
    assert hit.clauses[-1] == (
        "near promises 'risk-free' and pii PERSON (chars 16-28) (1 word apart, at most 4, same sentence)"
    )
    assert "Marie" not in hit.clauses[-1]
    # A name in the next sentence is not near.
    assert "acme-person" not in hits(plan, post, [promise, paul])
