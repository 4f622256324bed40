"""Lexicon phrases: case, accents, word boundaries, whitespace, exact spans, caching per plan."""

from __future__ import annotations

import pytest

from detectors.lexicon import LexiconDetector, LexiconMatcher, fold
from detectors.registry import make_plan

LISTS = {
    "confidential": ("ne pas diffuser", "confidentiel", "strictly confidential"),
    "insider": ("délit d'initié", "insider trading", "cash"),
    "overlap": ("confidentiel",),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Document CONFIDENTIEL",
            [("confidential", "CONFIDENTIEL", "confidentiel"), ("overlap", "CONFIDENTIEL", "confidentiel")],
        ),
        ("C'est un DELIT D’INITIE !", [("insider", "DELIT D’INITIE", "délit d'initié")]),
        ("Ne   pas\ndiffuser svp", [("confidential", "Ne   pas\ndiffuser", "ne pas diffuser")]),
        (
            "Élodie: délit d'initié, Strictly Confidential",
            [
                ("insider", "délit d'initié", "délit d'initié"),
                ("confidential", "Strictly Confidential", "strictly confidential"),
            ],
        ),
        ("the cashier took cash.", [("insider", "cash", "cash")]),
        ("cashback and precash", []),
        ("", []),
    ],
)
def test_matches(text, expected) -> None:
    found = LexiconMatcher(LISTS).match(text)
    assert [(f.type, text[f.start : f.end], f.extra["phrase"]) for f in found] == expected
    assert all(f.detector == "lexicon" for f in found)


def test_spans_exact_after_folding_expanding_characters() -> None:
    # "ß" folds to "ss" and "ﬁ" to "fi": offsets must still point into the original text.
    text = "Straße: ﬁnance CONFIDENTIEL"
    found = LexiconMatcher({"c": ("confidentiel", "strasse", "finance")}).match(text)
    assert [text[f.start : f.end] for f in found] == ["Straße", "ﬁnance", "CONFIDENTIEL"]


def test_fold_map() -> None:
    folded, index = fold("Éa  b")
    assert folded == "ea b"
    assert index == [0, 1, 2, 4]
    assert fold("plain ascii") == ("plain ascii", None)


def test_detector_caches_one_matcher_per_plan(make_post) -> None:
    detector = LexiconDetector()
    plan = make_plan("FR", lexicon_lists=LISTS)
    posts = [make_post("confidentiel"), make_post("rien"), make_post("insider trading")]
    result = detector.detect(posts, plan)
    assert [[f.type for f in findings] for findings in result] == [
        ["confidential", "overlap"],
        [],
        ["insider"],
    ]
    assert detector.matcher(plan.lexicon_lists) is detector.matcher(plan.lexicon_lists)


def test_bad_lists_refused() -> None:
    with pytest.raises(ValueError, match="empty phrase"):
        LexiconMatcher({"x": ("  ",)})
    with pytest.raises(TypeError, match="sequence of phrases"):
        LexiconMatcher({"x": "oops"})  # type: ignore[dict-item]
