"""SIRET: SIREN + 5-digit establishment number, Luhn; La Poste's digit-sum rule."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "expected", "min_score"),
    [
        ("SIRET 732 829 320 00074", "732 829 320 00074", 0.7),
        ("établissement 73282932000074", "73282932000074", 0.7),
        ("La Poste 356 000 000 00048", "356 000 000 00048", 0.4),
        ("bureau 35600000000055", "35600000000055", 0.4),  # digit sum 25: La Poste rule
    ],
)
def test_valid_siret(find_pii, text, expected, min_score) -> None:
    found = find_pii(text, "FR_SIRET")
    assert [value for _, value, _, _ in found] == [expected]
    assert found[0][2] >= min_score
    assert found[0][3] == "FrSiretRecognizer"


@pytest.mark.parametrize("text", ["SIRET 732 829 320 00075", "SIRET 35600000000057", "SIRET 00000000000000"])
def test_invalid_siret(find_pii, text) -> None:
    assert find_pii(text, "FR_SIRET") == []
