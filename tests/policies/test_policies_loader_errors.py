"""Bad packs are refused with the file, the line and how to fix it; all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError, load_policy_set

RULE_TESTS = """
    tests:
      match: ["a"]
      no_match: ["b"]
"""


def _errors(org_dir: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    return [str(error) for error in caught.value.errors]


def _rule(body: str, *, tests: bool = True, header: str = "pack: {id: acme, overlay: global}\n") -> str:
    return header + "rules:\n" + body.lstrip("\n") + (RULE_TESTS if tests else "")


def test_unknown_key_names_line_and_allowed_keys(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule("""
  - id: acme-one
    title: t
    description: d
    severity: high
    references: [x]
    when: {lexicon: confidentiality_markers}
    colour: red
"""),
    )
    assert _errors(org_dir) == [
        f"{path}:9: rule acme-one: unknown key 'colour' — Allowed keys: audience, description, exceptions, "
        "four_eyes, id, maturity, purpose, references, remediation, severity, sources, tags, tests, title, "
        "when"
    ]


def test_misspelt_key_suggests_the_right_one(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule("""
  - id: acme-one
    title: t
    description: d
    severity: high
    references: [x]
    when:
      all:
        - lexicon: confidentiality_markers
        - author: {role: [x], employee: true}
"""),
    )
    assert _errors(org_dir) == [
        f"{path}:11: rule acme-one: unknown key 'employee' — did you mean 'is_employee'? "
        "Allowed keys: is_employee, role"
    ]


def test_unknown_list_suggests_the_closest(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule("""
  - id: acme-one
    title: t
    description: d
    severity: high
    references: [x]
    when:
      lexicon: confidentialty_markers
"""),
    )
    [error] = _errors(org_dir)
    assert error.startswith(
        f"{path}:9: rule acme-one: unknown list 'confidentialty_markers' — did you mean "
        "'confidentiality_markers'? Lists defined: "
    )
    assert "brand_names" in error


def test_unknown_list_in_near_and_unknown_entity_and_pattern(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule("""
  - id: acme-one
    title: t
    description: d
    severity: high
    references: [x]
    when:
      all:
        - near: {a: insults, b: second_persn}
        - pii: {entities: [PERSN]}
        - pattern: [AWS_KEY]
"""),
    )
    errors = _errors(org_dir)
    assert [e.split(" — ")[0] for e in errors] == [
        f"{path}:10: rule acme-one: unknown list 'second_persn'",
        f"{path}:11: rule acme-one: unknown entity type 'PERSN'",
        f"{path}:12: rule acme-one: unknown pattern 'AWS_KEY'",
    ]
    assert "did you mean 'PERSON'? Entities known: " in errors[1]
    assert "did you mean 'AWS_SECRET_KEY'? Patterns known: " in errors[2]


def test_stable_rule_without_both_tests_is_refused(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule(
            """
  - id: acme-one
    title: t
    description: d
    severity: high
    references: [x]
    when: {lexicon: confidentiality_markers}
    tests:
      match: ["internal only"]
  - id: acme-two
    title: t
    description: d
    severity: high
    maturity: incubating
    when: {lexicon: confidentiality_markers}
""",
            tests=False,
        ),
    )
    assert _errors(org_dir) == [
        f"{path}:9: rule acme-one: a stable rule needs 'match' and 'no_match' tests (missing: no_match) "
        "— add 'tests: {match: [...], no_match: [...]}' with at least one post each, "
        "or set 'maturity: incubating'"
    ]


def test_bad_severity(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule("""
  - id: acme-one
    title: t
    description: d
    severity: urgent
    references: [x]
    when: {lexicon: confidentiality_markers}
"""),
    )
    assert _errors(org_dir) == [
        f"{path}:6: rule acme-one: invalid severity 'urgent' — use one of 'info', 'low', 'medium', 'high' "
        "or 'critical'"
    ]


def test_yaml_syntax_error_points_at_the_line(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: global}
        rules:
          - id: acme-one
            remediation: Tell the team: this breaks YAML
    """,
    )
    assert _errors(org_dir) == [
        f"{path}:4: YAML syntax error: mapping values are not allowed here — check indentation and quoting "
        "(a ':' or '#' inside a phrase needs quotes)"
    ]


def test_duplicate_yaml_key_is_refused(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: global}
        lists:
          brand_names: {extend: [Acme]}
          brand_names: {extend: [Other]}
    """,
    )
    [error] = _errors(org_dir)
    assert error.startswith(f"{path}:4: YAML syntax error: duplicate key 'brand_names' (first at line 3)")


def test_every_problem_of_every_file_is_reported_at_once(write_pack, org_dir):
    first = write_pack("a.yaml", "pack: {id: a, overlay: global}\nbogus: 1\n")
    second = write_pack("b.yaml", "pack: {id: b, jurisdiction: DE}\nrules: {}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    error = caught.value
    assert [(e.file, e.line) for e in error.errors] == [(str(first), 2), (str(second), 2)]
    text = str(error)
    assert text.splitlines()[0] == "2 policy error(s):"
    assert f"{first}:2: unknown key 'bogus'" in text
    assert f"{second}:2: rules: input should be a valid list" in text
    assert isinstance(error, ValueError)


def test_redefining_a_rule_id_or_disabling_an_unknown_one(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        """
        pack: {id: acme, overlay: global}
        rules:
          - id: global-threat
            title: t
            description: d
            severity: high
            references: [x]
            when: {lexicon: threats}
            tests: {match: [a], no_match: [b]}
        disable:
          - id: global-thret
            reason: noisy
    """,
    )
    errors = _errors(org_dir)
    assert errors[0].startswith(
        f"{path}:3: rule id 'global-threat' is already defined at policies/packs/global.yaml:"
    )
    assert errors[1] == (
        f"{path}:11: cannot disable unknown rule 'global-thret' — did you mean 'global-threat'? "
        f"Rules defined: " + errors[1].split("Rules defined: ")[1]
    )


def test_pack_structure_errors(write_pack, org_dir):
    overlay = write_pack("a.yaml", "pack: {id: acme, overlay: globl}\n")
    child = write_pack("b.yaml", "pack: {id: de, jurisdiction: DE, extends: europe}\n")
    clash = write_pack("c.yaml", "pack: {id: fr-bis, jurisdiction: FR}\n")
    errors = _errors(org_dir)
    assert errors == [
        f"{clash}:1: jurisdiction FR already has a pack (policies/packs/fr.yaml) — one pack per "
        "jurisdiction: use an overlay to amend it",
        f"{overlay}:1: overlay of unknown pack 'globl' — did you mean 'global'? Packs defined: de, eu, fr, "
        "global, uk, us",
        f"{child}:1: pack 'de' extends unknown pack 'europe' — Packs defined: de, eu, fr, global, uk, us",
    ]


def test_missing_directory(tmp_path):
    with pytest.raises(PolicyError, match="policies directory not found"):
        load_policy_set(tmp_path / "nope")


def test_unquoted_norway_is_explained(write_pack, org_dir):
    path = write_pack("no.yaml", "pack: {id: nordics, jurisdiction: SE, extends: eu, covers: [DK, NO]}\n")
    assert _errors(org_dir) == [
        f'{path}:1: covers: a country code was read as true/false: quote it, e.g. "NO" for Norway'
    ]


def test_unknown_detector_and_two_keys_in_one_condition(write_pack, org_dir):
    path = write_pack(
        "acme.yaml",
        _rule("""
  - id: acme-one
    title: t
    description: d
    severity: high
    references: [x]
    when:
      any:
        - ner: [PERSON]
        - lexicon: threats
          author: {is_employee: true}
"""),
    )
    assert _errors(org_dir) == [
        f"{path}:10: rule acme-one: unknown key 'ner' — NER entities are a pii predicate: 'pii: {{entities: "
        "[PERSON]}'. Allowed keys: all, any, author, channel, classifier, lang, lexicon, near, not, pattern, "
        "pii, sentiment",
        f"{path}:11: rule acme-one: a condition has exactly one key, found lexicon, author: wrap them in "
        "'all: [...]' or 'any: [...]'",
    ]


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        (
            "[communications]",
            "audience: compliance reviews every alert: write 'audience: [compliance, communications]' "
            "to share a rule's alerts with communications",
        ),
        ("[compliance, press]", "invalid value 'press' — use one of 'compliance' or 'communications'"),
        (
            "[compliance, compliance]",
            "audience: an audience is listed twice: list each of compliance, communications once",
        ),
    ],
)
def test_a_bad_audience_names_line_and_fix(write_pack, org_dir, audience, message):
    path = write_pack(
        "acme.yaml",
        _rule(f"""
  - id: acme-brand-watch
    title: t
    description: d
    severity: low
    references: [x]
    when: {{lexicon: brand_names}}
    audience: {audience}
"""),
    )
    assert _errors(org_dir) == [f"{path}:9: rule acme-brand-watch: {message}"]
