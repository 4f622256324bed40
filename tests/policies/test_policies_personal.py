"""Personal-message markers (pack ``personal:``): what counts as marked personal, per jurisdiction.

Written from the CNIL's rule (a message the employee identifies as personal, e.g. by its subject, is
off-limits) and from what must not switch monitoring off: a marker in passing, a business word that
starts like one, a jurisdiction whose records rules know no personal carve-out.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from policies.errors import PolicyError
from policies.loader import load_policy_set
from policies.packfile import PersonalSpec
from policies.personal import PersonalMarkers, fold
from policies.post import Author, Post, Source
from policies.runner import run_personal_tests


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    return load_policy_set()


def _post(text: str, jurisdiction: str = "FR", **metadata: object) -> Post:
    return Post(id="p-1", source=Source.INTERNAL, channel="teams", text=text, jurisdiction=jurisdiction,
                author=Author(id="u-1", is_employee=True, role="employee"), metadata=dict(metadata))


@pytest.mark.parametrize("text", [
    "[PERSO] on dîne où ?",
    "[perso]on dîne où ?",
    "Perso: dîner",
    "PRIVÉ – rendez-vous médical",
    "prive: rendez-vous",
    "   Personnel : mutuelle",
    "Private",
    "PERSONAL | dentist at 4",
])
def test_fr_skips_text_starting_with_a_marker(shipped, text: str) -> None:  # type: ignore[no-untyped-def]
    assert shipped.plan_for("FR").personal.skips(_post(text))


@pytest.mark.parametrize("text", [
    "Private equity fund closes its third round",
    "Personnel changes in the sales team",
    "Personnellement je valide",
    "Perspective Q3: do not forward",
    "Note: [PERSO] is how we mark private mail",  # a marker in passing is no marker
    "",
])
def test_fr_analyses_business_text(shipped, text: str) -> None:  # type: ignore[no-untyped-def]
    assert not shipped.plan_for("FR").personal.skips(_post(text))


def test_subject_flag_and_reply_prefixes(shipped) -> None:  # type: ignore[no-untyped-def]
    fr = shipped.plan_for("FR").personal
    assert fr.marker(_post("photos", subject="RE: TR: [Perso] week-end")) == "subject:[perso]"
    assert fr.marker(_post("photos", subject="RE: dossier perso")) is None
    assert fr.marker(_post("photos", personal=True)) == "flag:personal"
    assert fr.marker(_post("photos", personal="false")) is None
    assert fr.marker(_post("photos", personal=0)) is None


@pytest.mark.parametrize(("jurisdiction", "skipped"), [("FR", True), ("DE", True), ("EU", True),
                                                       ("US", False), ("GB", False), ("GLOBAL", False)])
def test_which_jurisdictions_skip(shipped, jurisdiction: str, skipped: bool) -> None:  # type: ignore[no-untyped-def]
    assert shipped.plan_for(jurisdiction).personal.skips(_post("[PERSO] dîner", jurisdiction)) is skipped


def test_inherited_along_extends_and_own_tests_only(shipped) -> None:  # type: ignore[no-untyped-def]
    fr, eu = shipped.plans["FR"].personal, shipped.plans["EU"].personal
    assert fr.prefixes == eu.prefixes and fr.skip and fr.flags == eu.flags
    assert {origin.split(":")[0] for _, _, origin, _ in fr.tests} == {"policies/packs/fr.yaml"}


def test_shipped_marker_tests_pass_and_cover_both_outcomes(shipped) -> None:  # type: ignore[no-untyped-def]
    results = run_personal_tests(shipped)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    kinds = {(r.rule_id, r.kind) for r in results}
    assert {("personal:fr", "skip"), ("personal:fr", "analyse"), ("personal:us", "analyse")} <= kinds


def test_a_failing_marker_test_is_reported(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(
        "pack: {id: org, overlay: fr}\n"
        "personal:\n  tests:\n    skip: ['Confidentiel: le plan social']\n    analyse: ['[PERSO] x']\n"
    )
    failed = [r for r in run_personal_tests(load_policy_set(tmp_path)) if not r.passed]
    assert [(r.kind, r.detail) for r in failed] == [
        ("skip", "no personal marker found in FR"), ("analyse", "skipped: marked by text:[perso]")]


def test_blank_marker_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text("pack: {id: org, overlay: fr}\npersonal:\n  prefixes: ['  ']\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_set(tmp_path)
    assert "org.yaml:3" in str(caught.value) and "blank" in str(caught.value)


def test_unknown_key_refused(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text("pack: {id: org, overlay: fr}\npersonal:\n  skipp: true\n")
    with pytest.raises(PolicyError, match="skipp"):
        load_policy_set(tmp_path)


def test_fold_is_case_and_accent_insensitive() -> None:
    assert fold("PRIVÉ") == fold("privé") == fold("Prive") == "prive"
    assert fold("PERSÖNLICH") == "personlich"


def test_matching_time_does_not_grow_with_the_post() -> None:
    markers = PersonalMarkers().merged(PersonalSpec(skip=True, prefixes=["perso", "[perso]"]))
    small, huge = "perso" + "o" * 100, "perso" + "o" * 100_000 + " " * 100_000
    started = time.perf_counter()
    for _ in range(200):
        markers.marker_of(small, "teams", {})
    base = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(200):
        markers.marker_of(huge, "teams", {"subject": "re:" * 50_000})
    assert time.perf_counter() - started < max(10 * base, 0.05)


def test_a_long_marker_is_refused(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(
        "pack: {id: org, overlay: fr}\npersonal:\n  prefixes: ['" + "x" * 40 + "']\n")
    with pytest.raises(PolicyError, match="longer than 32 characters"):
        load_policy_set(tmp_path)


def test_accented_first_letter_and_non_ascii_text() -> None:
    markers = PersonalMarkers().merged(PersonalSpec(skip=True, prefixes=["écrit perso"]))
    assert markers.marker_of("ÉCRIT PERSO: x", "teams", {}) == "text:ecrit perso"
    assert markers.marker_of("Ecrit perso - x", "teams", {}) == "text:ecrit perso"
    assert markers.marker_of("Écrit personnel", "teams", {}) is None
