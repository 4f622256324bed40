"""French identity card numbers: 1995 format (with optional MRZ check digit) and 2021 format."""

from __future__ import annotations

import pytest

from detectors.recognizers import icao_check_digit


@pytest.mark.parametrize(
    ("text", "expected", "min_score"),
    [
        ("carte d'identité n° 880692310285", "880692310285", 0.6),
        ("CNI 8806923102858", "8806923102858", 1.0),  # MRZ check digit 8 is right
        ("ID card X4RTBPFW4", "X4RTBPFW4", 0.4),
        ("numéro de CNI : X4RTBPFW4", "X4RTBPFW4", 0.4),
    ],
)
def test_id_card_found(find_pii, text, expected, min_score) -> None:
    found = find_pii(text, "FR_ID_CARD")
    assert [value for _, value, _, _ in found] == [expected]
    assert found[0][2] >= min_score
    assert found[0][3] == "FrIdCardRecognizer"


@pytest.mark.parametrize(
    "text",
    [
        "CNI 8806923102851",  # wrong MRZ check digit
        "ref 881392310285",  # month 13
        "covid2019x is lower case",  # 2021 format is upper case
        "CNI ABCDEFGHI",  # no digit
    ],
)
def test_not_id_card(find_pii, text) -> None:
    assert find_pii(text, "FR_ID_CARD") == []


def test_without_context_the_2021_format_is_very_weak(find_pii) -> None:
    found = find_pii("code X4RTBPFW4", "FR_ID_CARD")
    assert found and found[0][2] < 0.1


def test_icao_check_digit() -> None:
    assert icao_check_digit("880692310285") == 8
    assert icao_check_digit("L898902C<") == 3  # ICAO 9303 specimen passport number
