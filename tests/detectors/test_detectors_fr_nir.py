"""French NIR (numéro de sécurité sociale): key = 97 - (first 13 digits mod 97), Corsica 2A/2B."""

from __future__ import annotations

import pytest

from detectors.recognizers import FrNirRecognizer, nir_key


@pytest.mark.parametrize(
    ("text", "expected", "min_score", "max_score"),
    [
        ("NIR 1 85 05 78 006 084 91 merci", "1 85 05 78 006 084 91", 1.0, 1.0),
        ("son numéro de sécurité sociale est 185057800608491", "185057800608491", 1.0, 1.0),
        ("social security number: 1 85 05 78 006 084 91", "1 85 05 78 006 084 91", 1.0, 1.0),
        ("Corse du Sud : 2 90 02 2A 004 123 04", "2 90 02 2A 004 123 04", 1.0, 1.0),
        ("Haute-Corse : 2 90 02 2B 004 123 31", "2 90 02 2B 004 123 31", 1.0, 1.0),
        ("né à l'étranger 2 69 04 99 350 012 82", "2 69 04 99 350 012 82", 1.0, 1.0),
    ],
)
def test_valid_nir_found_with_checksum_score(find_pii, text, expected, min_score, max_score) -> None:
    found = find_pii(text, "FR_NIR")
    assert [value for _, value, _, _ in found] == [expected]
    assert all(min_score <= score <= max_score for _, _, score, _ in found)
    assert found[0][3] == "FrNirRecognizer"


@pytest.mark.parametrize(
    "text",
    [
        "NIR 1 85 05 78 006 084 92",  # wrong key
        "2 90 02 2A 004 123 31",  # 2B's key on a 2A number
        "5 85 05 78 006 084 91",  # no such sex digit
        "1 85 05 78 006 084",  # key missing
        "order 1850578006084911 shipped",  # longer number
    ],
)
def test_invalid_nir_not_reported(find_pii, text) -> None:
    assert find_pii(text, "FR_NIR") == []


def test_key_formula_and_corsica() -> None:
    assert nir_key("1850578006084") == 91
    # 2A counts as 19, 2B as 18.
    assert nir_key("290022A004123") == 97 - int("2900219004123") % 97
    assert nir_key("290022B004123") == 97 - int("2900218004123") % 97


def test_is_a_presidio_pattern_recognizer() -> None:
    from presidio_analyzer import PatternRecognizer

    recognizer = FrNirRecognizer()
    assert isinstance(recognizer, PatternRecognizer)
    results = recognizer.analyze("1 85 05 78 006 084 91", ["FR_NIR"])
    assert [(r.entity_type, r.start, r.end, r.score) for r in results] == [("FR_NIR", 0, 21, 1.0)]
