"""Sentiment: VADER for English, the French VADER lexicon (vadersentiment-fr) for French.

Posts in any other language, or whose language cannot be told, get no finding at all: a VADER
score on a German post would be a confident wrong answer. The choice of the French analyser and
its measured accuracy are in detectors/README.md (test set: tests/detectors/data/).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from detectors.base import DetectorPlan, Finding, TextRecord
from detectors.language import LanguageDetector
from detectors.vader import polarity_scores

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

MODELS = {"en": "vaderSentiment", "fr": "vaderSentiment_fr"}
# vadersentiment-fr's polarity_scores leaves VADER's "but" rule out (commented out in its source).
_BUT_RULE = {"en": True, "fr": False}


def label_for(compound: float) -> str:
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def _load(lang: str) -> Any:
    if lang == "en":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return SentimentIntensityAnalyzer()
    if lang == "fr":
        with warnings.catch_warnings():
            # fuzzywuzzy warns that python-Levenshtein is absent; the French analyser works without it.
            warnings.simplefilter("ignore", UserWarning)
            from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer as FrenchAnalyzer

        return FrenchAnalyzer()
    raise ValueError(f"no sentiment model for language {lang!r}; available: {sorted(MODELS)}")


class SentimentDetector:
    name: ClassVar[str] = "sentiment"

    def __init__(self, languages: LanguageDetector) -> None:
        self._languages = languages
        self._analyzers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def analyzer(self, lang: str) -> Any:
        analyzer = self._analyzers.get(lang)
        if analyzer is None:
            with self._lock:
                analyzer = self._analyzers.get(lang)
                if analyzer is None:
                    analyzer = self._analyzers[lang] = _load(lang)
        return analyzer

    def score(self, text: str, lang: str) -> Finding | None:
        if lang not in MODELS or not text.strip():
            return None
        scores = polarity_scores(self.analyzer(lang), text, but_rule=_BUT_RULE[lang])
        compound = float(scores["compound"])
        return Finding(
            "sentiment",
            label_for(compound),
            0,
            len(text),
            compound,
            MODELS[lang],
            {"pos": scores["pos"], "neg": scores["neg"], "neu": scores["neu"], "model": MODELS[lang]},
        )

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]:
        if not plan.sentiment:
            return [[] for _ in posts]
        results: list[list[Finding]] = []
        for post in posts:
            lang = self._languages.language_of(post)
            finding = self.score(post.text, lang) if lang else None
            results.append([finding] if finding else [])
        return results
