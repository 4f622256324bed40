"""French phone numbers (+33 / 0033 / 0X) and the jurisdiction's default phone region."""

from __future__ import annotations

import pytest

from detectors.recognizers import FrPhoneRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Appelez-moi au 06 12 34 56 78 demain", "06 12 34 56 78"),
        ("tél : 01.42.68.53.00", "01.42.68.53.00"),
        ("call +33 6 12 34 56 78 please", "+33 6 12 34 56 78"),
        ("WhatsApp 0033612345678", "0033612345678"),
        ("mobile: +33 (0)6 12 34 56 78", "+33 (0)6 12 34 56 78"),
        ("fixe 04-72-00-00-01", "04-72-00-00-01"),
        # French typography groups digits with a no-break or a narrow no-break space.
        ("portable 06\u00a012\u00a034\u00a056\u00a078", "06\u00a012\u00a034\u00a056\u00a078"),
        ("portable 06\u202f12\u202f34\u202f56\u202f78", "06\u202f12\u202f34\u202f56\u202f78"),
        ("+33\u202f6\u202f12\u202f34\u202f56\u202f78", "+33\u202f6\u202f12\u202f34\u202f56\u202f78"),
    ],
)
def test_french_numbers_found_by_the_french_recognizer(text, expected) -> None:
    results = FrPhoneRecognizer().analyze(text, ["PHONE_NUMBER"])
    assert [text[r.start : r.end] for r in results] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "invoice 0612345",  # too short
        "ref 06 06 06 06 06",  # filler
        "id 106 12 34 56 78 9",  # inside a longer number
        "version 1.06.12.34.56.78",
        "06\u202f12\u202f34\u202f56",  # four pairs: one short
    ],
)
def test_not_french_numbers(text) -> None:
    assert FrPhoneRecognizer().analyze(text, ["PHONE_NUMBER"]) == []


def test_context_raises_score(find_pii) -> None:
    plain = find_pii("rdv 06 12 34 56 78", "PHONE_NUMBER")
    with_context = find_pii("mon portable 06 12 34 56 78", "PHONE_NUMBER")
    english_context = find_pii("my phone 06 12 34 56 78", "PHONE_NUMBER")
    assert plain and with_context and english_context
    assert with_context[0][2] > plain[0][2]
    assert english_context[0][2] > plain[0][2]


def test_region_follows_the_jurisdiction(find_pii) -> None:
    us_national = "call me at (415) 555-2671 tomorrow"
    assert [value for _, value, _, _ in find_pii(us_national, "PHONE_NUMBER", "US")] == ["(415) 555-2671"]
    # Without a country code a US-format number is not a French number.
    assert find_pii(us_national, "PHONE_NUMBER", "FR") == []
    # International format is found whatever the jurisdiction.
    assert find_pii("call +1 415 555 2671", "PHONE_NUMBER", "FR")
