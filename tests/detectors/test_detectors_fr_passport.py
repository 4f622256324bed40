"""French passport numbers: 2 digits, 2 letters, 5 digits; context carries the score."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "expected", "min_score", "max_score"),
    [
        ("passeport n° 12AB34567", "12AB34567", 0.4, 1.0),
        ("passport number 05CV12345", "05CV12345", 0.4, 1.0),
        ("ref 12AB34567", "12AB34567", 0.1, 0.1),
    ],
)
def test_passport_found(find_pii, text, expected, min_score, max_score) -> None:
    found = find_pii(text, "FR_PASSPORT")
    assert [value for _, value, _, _ in found] == [expected]
    assert min_score <= found[0][2] <= max_score
    assert found[0][3] == "FrPassportRecognizer"


@pytest.mark.parametrize(
    "text", ["passeport 12ab34567", "passeport 1AB34567", "passeport 12ABC4567", "X12AB34567"]
)
def test_not_passport(find_pii, text) -> None:
    assert find_pii(text, "FR_PASSPORT") == []
