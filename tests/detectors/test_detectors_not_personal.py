"""What the recognizers mistake for personal data: organisations tagged PERSON, words opening a
sentence, reference codes read as phone numbers. Each row runs the real detectors (spaCy NER, Presidio
phone recognizers); the real names and numbers next to them must still be found."""

from __future__ import annotations

import pytest

from detectors.config import DetectorConfig
from detectors.ner import NerDetector
from detectors.not_personal import NotAPerson, fold_name, is_reference_code, shipped_organisations
from detectors.registry import make_plan
from monitor.brands import BrandConfig
from monitor.settings import Settings


@pytest.fixture(scope="module")
def ner() -> NerDetector:
    return NerDetector(DetectorConfig())


def persons(detector: NerDetector, make_post, text: str, lang: str) -> list[str]:
    plan = make_plan("FR", pii_entities={"PERSON"})
    found = detector.detect([make_post(text, lang=lang)], plan)[0]
    return [text[f.start : f.end] for f in found if f.type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        # Fashion houses and retailers named after people, whole entities only.
        ("Louis Vuitton et Christian Dior dominent le classement du luxe.", "fr", []),
        ("Tommy Hilfiger and Hugo Boss are 30% off at the outlet.", "en", []),
        ("Got a shirt at Ralph Lauren, then met Jordan Lee at the Santander branch.", "en", ["Jordan Lee"]),
        # Words opening a sentence.
        ("Désolé pour le retard, le RER était bloqué.", "fr", []),
        ("Passe le bonjour à Audrey de ma part !", "fr", ["Audrey"]),
        ("Merci Paul, je regarde ça demain.", "fr", ["Paul"]),
        # Real names stay names, even next to brands or after a greeting.
        ("Bienvenue à Léa Fontaine qui rejoint l'équipe juridique.", "fr", ["Léa Fontaine"]),
        ("Marks and Spencer said Amelia Wright will lead the new store.", "en", ["Amelia Wright"]),
    ],
)
def test_persons_without_organisations_or_sentence_openers(ner, make_post, text, lang, expected):
    assert persons(ner, make_post, text, lang) == expected


def test_organisation_names_from_configuration_and_watched_brands(make_post):
    text = "Contoso Dupont a encore changé ses horaires, demande à Marie Curie."
    plain = NerDetector(DetectorConfig())
    assert "Contoso Dupont" in persons(plain, make_post, text, "fr")
    configured = NerDetector(DetectorConfig(known_organisations=frozenset({"Contoso Dupont"})))
    assert persons(configured, make_post, text, "fr") == ["Marie Curie"]
    settings = Settings(brands=[BrandConfig(name="Northwind", aliases=["Contoso Dupont"])])
    assert "contoso dupont" in {fold_name(n) for n in settings.detector_config().known_organisations}
    assert persons(NerDetector(settings.detector_config()), make_post, text, "fr") == ["Marie Curie"]


@pytest.mark.parametrize(
    ("text", "jurisdiction", "expected"),
    [
        ("Tracking number 1Z 999 AA1 01 2345 6784 shows it's in Memphis.", "US", []),
        ("Votre dossier n° 01 44 55 66 77 est en cours de traitement.", "FR", []),
        ("Commande 06 12 34 56 78 expédiée ce matin.", "FR", []),
        ("Call the site manager on 020 7946 0321 after lunch.", "GB", ["020 7946 0321"]),
        ("Appelez-moi au 01 44 55 66 77 si besoin.", "FR", ["01 44 55 66 77"]),
        ("Booking for Nancy Cooper, 617-555-0123, two nights.", "US", ["617-555-0123"]),
        # A phone word vouches for a number after a reference word...
        ("Order questions? Call 020 7946 0321.", "GB", ["020 7946 0321"]),
    ],
)
def test_reference_codes_are_not_phone_numbers(find_pii, text, jurisdiction, expected):
    assert [match for _, match, _, _ in find_pii(text, "PHONE_NUMBER", jurisdiction)] == expected


def test_a_code_is_a_code_whatever_the_words_around_it():
    text = "Tracking number 1Z 999 AA1 01 2345 6784"
    start = text.index("01 2345")
    assert is_reference_code(text, start, len(text), phone_context=True)
    assert not is_reference_code("call 01 2345 6784", 5, 17, phone_context=True)


def test_the_shipped_list_leaves_out_first_names_and_matches_whole_entities():
    organisations = shipped_organisations()
    assert {"louis vuitton", "hugo boss", "sainsbury", "societe generale"} <= organisations
    assert not {"hugo", "jules", "celine", "chloe", "chase", "ford", "paul smith", "tom ford"} & organisations
    judge = NotAPerson()
    text = "Paul Smith joined the team today."
    assert judge.name_span(text, 0, 10, "en") == (0, 10)
    assert judge.name_span("Sainsbury's", 0, 11, "en") is None
