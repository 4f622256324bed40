"""Presidio's built-in recognizers as Veille runs them: prefilters, FR/EN context, allow-list, thresholds."""

from __future__ import annotations

import pytest

from detectors.config import DetectorConfig
from detectors.pii import PiiDetector
from detectors.registry import make_plan


@pytest.mark.parametrize(
    ("entity", "text", "expected", "recognizer"),
    [
        (
            "EMAIL_ADDRESS",
            "écrivez à jean.dupont@example.fr svp",
            "jean.dupont@example.fr",
            "EmailRecognizer",
        ),
        (
            "CREDIT_CARD",
            "ma carte bancaire 4111 1111 1111 1111",
            "4111 1111 1111 1111",
            "CreditCardRecognizer",
        ),
        ("CREDIT_CARD", "card 4111-1111-1111-1111", "4111-1111-1111-1111", "CreditCardRecognizer"),
        (
            "IBAN_CODE",
            "RIB : FR76 3000 6000 0112 3456 7890 189",
            "FR76 3000 6000 0112 3456 7890 189",
            "IbanRecognizer",
        ),
        ("IBAN_CODE", "IBAN GB82WEST12345698765432", "GB82WEST12345698765432", "IbanRecognizer"),
        ("IP_ADDRESS", "le serveur 192.168.1.20 est tombé", "192.168.1.20", "IpRecognizer"),
        ("URL", "voir https://intranet.example.com/doc", "https://intranet.example.com/doc", "UrlRecognizer"),
        ("US_SSN", "my ssn is 536-22-8197", "536-22-8197", "UsSsnRecognizer"),
        ("US_ITIN", "ITIN 911-70-1234", "911-70-1234", "UsItinRecognizer"),
        ("US_PASSPORT", "US passport 912803456", "912803456", "UsPassportRecognizer"),
        ("UK_NINO", "national insurance number AB 12 34 56 C", "AB 12 34 56 C", "UkNinoRecognizer"),
        ("UK_NHS", "NHS number 943 476 5919", "943 476 5919", "NhsRecognizer"),
    ],
)
def test_builtin_found(find_pii, entity, text, expected, recognizer) -> None:
    found = find_pii(text, entity, "GLOBAL")
    assert expected in [value for _, value, _, _ in found]
    assert {name for _, value, _, name in found if value == expected} == {recognizer}


@pytest.mark.parametrize(
    ("entity", "text"),
    [
        ("CREDIT_CARD", "card 4111 1111 1111 1112"),  # Luhn fails
        ("IBAN_CODE", "IBAN FR76 3000 6000 0112 3456 7890 188"),  # checksum fails
        ("EMAIL_ADDRESS", "no address here"),
        ("IP_ADDRESS", "version 1.2 released"),
        ("US_SSN", "ssn 000-12-3456"),
        ("UK_NHS", "NHS number 943 476 5918"),  # check digit fails
    ],
)
def test_builtin_rejects(find_pii, entity, text) -> None:
    assert find_pii(text, entity, "GLOBAL") == []


def test_only_planned_entities_are_reported(pii_detector, make_post) -> None:
    post = make_post("mail jean@example.fr, tel 06 12 34 56 78")
    findings = pii_detector.detect([post], make_plan("FR", pii_entities={"EMAIL_ADDRESS"}))[0]
    assert {f.type for f in findings} == {"EMAIL_ADDRESS"}
    # The phone recognizer is not even built for a plan without PHONE_NUMBER.
    bound = pii_detector.bound(frozenset({"EMAIL_ADDRESS"}), ("FR",))
    assert {type(item.recognizer).__name__ for item in bound} == {"EmailRecognizer"}


def test_french_context_raises_score(find_pii) -> None:
    plain = find_pii("192.168.1.20", "IP_ADDRESS")[0][2]
    assert find_pii("adresse du serveur 192.168.1.20", "IP_ADDRESS")[0][2] > plain


def test_allow_list_and_thresholds(make_post) -> None:
    detector = PiiDetector(
        DetectorConfig(allow_list=frozenset({"Presse@Example.fr"}), score_thresholds={"PHONE_NUMBER": 0.6})
    )
    post = make_post("presse@example.fr ou jean@example.fr. Portable 07 12 34 56 78, sinon 06 12 34 56 78")
    plan = make_plan("FR", pii_entities={"EMAIL_ADDRESS", "PHONE_NUMBER"})
    found = [(f.type, post.text[f.start : f.end]) for f in detector.detect([post], plan)[0]]
    assert ("EMAIL_ADDRESS", "jean@example.fr") in found
    assert ("EMAIL_ADDRESS", "presse@example.fr") not in found
    # Without context the phone scores 0.4 < 0.6; "portable" lifts the second one above.
    assert [value for kind, value in found if kind == "PHONE_NUMBER"] == ["07 12 34 56 78"]


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown type 'PHONE'"):
        DetectorConfig(score_thresholds={"PHONE": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        DetectorConfig(score_thresholds={"PHONE_NUMBER": 1.5})


def test_spans_are_offsets_into_the_text(pii_detector, make_post) -> None:
    post = make_post("Écrivez à élodie.martin@example.fr — merci")
    finding = pii_detector.detect([post], make_plan("FR", pii_entities={"EMAIL_ADDRESS"}))[0][0]
    assert post.text[finding.start : finding.end] == "élodie.martin@example.fr"
