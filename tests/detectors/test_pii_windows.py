"""Analysing a long text in overlapping windows finds what analysing it whole finds.

Each recognizer the pii detector builds runs on texts full of identifiers, long enough for several
windows and shifted so that window edges fall inside identifiers, then whole: the results must be the
same spans with the same scores.
"""

from __future__ import annotations

from typing import Any

import pytest

from detectors.catalogue import PATTERN_PII_ENTITIES
from detectors.config import DetectorConfig
from detectors.pii import WINDOW, WINDOW_MARGIN, WINDOW_OVERLAP, PiiDetector, analyze_in_windows

SENTENCES = (
    "Écrivez à jean.dupont@example.fr ou à j.smith+news@mail.example.co.uk demain.",
    "Appelez le 06 12 34 56 78 ou le +33 1 42 68 53 00, sinon +1 (415) 555-0132 et 020 7946 0958.",
    "Carte 4111 1111 1111 1111 et 5500-0000-0000-0004, RIB FR76 3000 6000 0112 3456 7890 189.",
    "IBAN GB82WEST12345698765432; serveur 192.168.1.20 et fe80::1ff:fe23:4567:890a en panne.",
    "Voir https://intranet.example.com/doc?id=42 et www.example.org/page, ssn 536-22-8197.",
    "ITIN 911-70-1234, passport 912803456, NINO AB 12 34 56 C, NHS 943 476 5919.",
    "NIR 1 85 05 78 006 084 91, SIREN 732 829 320, SIRET 732 829 320 00074, CNI 880692310285.",
    "Passeport 12AB34567 et carte d'identité X4RTBPFW4 ; rien d'autre à signaler ici.",
)


def _long_text(shift: int) -> str:
    body = " ".join(SENTENCES[i % len(SENTENCES)] + " " * (i % 7) for i in range(160))
    return "x" * shift + " " + body


def _recognizers() -> list[tuple[str, Any, str]]:
    detector = PiiDetector(DetectorConfig())
    bound = detector.bound(PATTERN_PII_ENTITIES, ("FR", "GB", "US", "DE"))
    return [(item.recognizer.name, item.recognizer, item.entity) for item in bound]


def _spans(results: list[Any]) -> list[tuple[int, int, str, float]]:
    return sorted((r.start, r.end, r.entity_type, round(r.score, 6)) for r in results)


@pytest.mark.parametrize(
    ("name", "recognizer", "entity"), _recognizers(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_windows_find_what_the_whole_text_has(name: str, recognizer: Any, entity: str) -> None:
    for shift in (0, 37, WINDOW_MARGIN, WINDOW_OVERLAP // 2 + 5, 1001):
        text = _long_text(shift)
        assert len(text) > 3 * WINDOW
        whole = _spans(recognizer.analyze(text, [entity], None))
        assert whole, f"{name} finds nothing in the test text: the comparison would prove nothing"
        assert _spans(analyze_in_windows(recognizer, text, entity)) == whole


@pytest.mark.parametrize(
    ("name", "recognizer", "entity"), _recognizers(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_text_up_to_the_window_size_is_one_window(name: str, recognizer: Any, entity: str) -> None:
    text = " ".join(SENTENCES)
    text = (text * (WINDOW // len(text) + 1))[:WINDOW]
    assert _spans(analyze_in_windows(recognizer, text, entity)) == _spans(
        recognizer.analyze(text, [entity], None)
    )


def test_an_identifier_across_a_window_edge_is_found_once() -> None:
    detector = PiiDetector(DetectorConfig())
    email = next(item for item in detector.bound(frozenset({"EMAIL_ADDRESS"}), ("FR",)))
    step = WINDOW - WINDOW_OVERLAP
    for offset in range(-30, 10, 3):  # the address starts just before, at and after the second window's start
        text = (
            "a " * ((step + offset) // 2)
            + "z" * ((step + offset) % 2)
            + " jean.dupont@example.fr "
            + "b " * WINDOW
        )
        found = analyze_in_windows(email.recognizer, text, "EMAIL_ADDRESS")
        assert [text[r.start : r.end] for r in found] == ["jean.dupont@example.fr"]
