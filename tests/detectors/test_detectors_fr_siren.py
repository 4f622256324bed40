"""SIREN: 9 digits with a Luhn key; weak alone, context words raise it."""

from __future__ import annotations

import pytest

from detectors.recognizers import FrSirenRecognizer, luhn_ok


@pytest.mark.parametrize(
    ("text", "expected", "min_score"),
    [
        ("SIREN 732 829 320", "732 829 320", 0.6),
        ("RCS Paris 552 100 554", "552 100 554", 0.6),
        ("company registration 732829320", "732829320", 0.6),
        ("numéro 732 829 320 reçu", "732 829 320", 0.3),
    ],
)
def test_valid_siren(find_pii, text, expected, min_score) -> None:
    found = find_pii(text, "FR_SIREN")
    assert [value for _, value, _, _ in found] == [expected]
    assert found[0][2] >= min_score
    assert found[0][3] == "FrSirenRecognizer"


@pytest.mark.parametrize(
    "text",
    ["SIREN 732 829 321", "SIREN 111 111 111", "SIRET 732 829 320 00074", "tel 0732829320"],
)
def test_invalid_siren(find_pii, text) -> None:
    assert find_pii(text, "FR_SIREN") == []


def test_without_context_is_weak() -> None:
    result = FrSirenRecognizer().analyze("total 732829320", ["FR_SIREN"])
    assert [round(r.score, 2) for r in result] == [0.3]


def test_luhn() -> None:
    assert luhn_ok("732829320")
    assert not luhn_ok("732829321")
    assert not luhn_ok("73282932a")
