"""UK phone numbers by the shape of Ofcom's National Telephone Numbering Plan.

Examples are Ofcom's ranges kept for drama and documentation (020 7946 0xxx, 0161 496 0xxx,
01632 960xxx, 07700 900xxx), written in the groupings the plan uses: libphonenumber calls the
07700 900 block unallocated, so Presidio's own recognizer alone misses it in every jurisdiction, and
misses any UK number written the national way in a French or US post.
"""

from __future__ import annotations

import pytest

from detectors.recognizers import UkPhoneRecognizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call me on 07700 900123 after six", "07700 900123"),
        ("mobile 07700 900 123", "07700 900 123"),
        ("ring me 07700-900-123", "07700-900-123"),
        ("text 07700900123", "07700900123"),
        ("office 020 7946 0958", "020 7946 0958"),
        ("office (020) 7946 0958", "(020) 7946 0958"),
        ("Manchester desk 0161 496 0000", "0161 496 0000"),
        ("home 01632 960000", "01632 960000"),
        ("freephone 0808 157 0192", "0808 157 0192"),
        ("+44 7700 900123", "+44 7700 900123"),
        ("+44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
        ("0044 7700 900123", "0044 7700 900123"),
    ],
)
def test_uk_numbers_found(text, expected) -> None:
    results = UkPhoneRecognizer().analyze(text, ["PHONE_NUMBER"])
    assert [text[r.start : r.end] for r in results] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "06 12 34 56 78",  # French: ten digits with the trunk 0
        "(415) 555-0132",  # US: no trunk 0
        "07700 90012",  # nine national digits: one short
        "07700 9001234",  # eleven national digits: one too many
        "07777 777777",  # filler
        "id 107700 900123",  # inside a longer number
        "build 2.07700.900123",
        "+33 6 12 34 56 78",
        "05 0000 0000",  # 05 is not a range the recognizer covers (corporate numbering, withdrawn)
    ],
)
def test_not_uk_numbers(text) -> None:
    assert UkPhoneRecognizer().analyze(text, ["PHONE_NUMBER"]) == []


@pytest.mark.parametrize("jurisdiction", ["GB", "FR", "US", "EU"])
def test_uk_mobile_found_in_every_jurisdiction(find_pii, jurisdiction) -> None:
    found = find_pii("my mobile is 07700 900123 if you need me", "PHONE_NUMBER", jurisdiction)
    assert [value for _, value, _, _ in found] == ["07700 900123"]


def test_reference_code_is_still_no_phone(find_pii) -> None:
    # An order reference with the plan's shape: the reference word and no phone word decide.
    assert find_pii("order 07700 900123 shipped today", "PHONE_NUMBER", "GB") == []
