"""VADER in linear time: exactly the analysers' own scores on long texts, in a fraction of the time."""

from __future__ import annotations

import random
import time

import pytest

from detectors.language import LanguageDetector
from detectors.sentiment import SentimentDetector
from detectors.vader import LONG_TEXT_CHARS, polarity_scores

# Words that exercise every rule: boosters, negations, "kind of", idioms, "but", caps, emphasis, emoji.
_EN = ("good bad not but BUT very kind of the no never so this without doubt least at great terrible "
       ":) ! ? ... love hate GREAT sort really extremely nor or 😀 😡")
_FR = ("bon mauvais pas mais très jamais sans doute génial horrible aime déteste :) ! ? super nul "
       "vraiment peu 😀")
VOCABULARY = {"en": _EN.split(" "), "fr": _FR.split(" ")}


@pytest.fixture(scope="module")
def sentiment() -> SentimentDetector:
    return SentimentDetector(LanguageDetector())


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_long_texts_score_exactly_as_the_analyser_does(sentiment: SentimentDetector, lang: str) -> None:
    analyzer = sentiment.analyzer(lang)
    rng = random.Random(7)
    for _ in range(25):
        text = " ".join(rng.choice(VOCABULARY[lang]) for _ in range(rng.randint(500, 1200)))
        assert len(text) > LONG_TEXT_CHARS, "the linear path is the one under test"
        assert polarity_scores(analyzer, text, but_rule=lang == "en") == analyzer.polarity_scores(text)


def test_a_hundred_kilobytes_of_sentiment_words_is_quick(sentiment: SentimentDetector) -> None:
    # Before: VADER rebuilt the word list for every sentiment word, ≈45 s for this post.
    text = ("bad but good terrible " * 4600)[:100_000]
    started = time.perf_counter()
    finding = sentiment.score(text, "en")
    elapsed = time.perf_counter() - started
    assert finding is not None and finding.type in ("positive", "negative", "neutral")
    assert elapsed < 3, f"{elapsed:.1f} s for a 100 KB post"
