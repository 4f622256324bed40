"""Language of a post: its declared ``lang``, else detected offline with lingua.

lingua (models in the wheel, no network) was measured on the 96 short EN/FR sentences of
tests/detectors/data/: high-accuracy mode, 7 candidate languages: 96/96 right, ≈4,000-6,000 posts/s
once warm (the first calls load its n-gram models, ≈1.5 s); low-accuracy mode ≈20,000 posts/s but
it cannot tell very short posts apart ("Thanks!" → Dutch/English tie). Candidates beyond the
languages with models keep a German post from being scored as English.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from detectors.base import TextRecord

_CACHE_LIMIT = 8192


class LanguageDetector:
    """Detects among a fixed set of languages; returns None when unsure rather than guessing."""

    def __init__(
        self, languages: Iterable[str] = ("en", "fr"), min_confidence: float = 0.3, low_accuracy: bool = False
    ) -> None:
        self.languages = tuple(dict.fromkeys(lang.lower() for lang in languages))
        if len(self.languages) < 1:
            raise ValueError("LanguageDetector needs at least one ISO 639-1 language code")
        self.min_confidence = min_confidence
        self.low_accuracy = low_accuracy
        self._detector: Any = None
        self._lock = threading.Lock()
        # Several detectors (sentiment, ner) ask for the same post's language in one batch.
        self._cache: dict[str, str | None] = {}

    def _build(self) -> Any:
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        codes = []
        for lang in self.languages:
            try:
                codes.append(getattr(IsoCode639_1, lang.upper()))
            except AttributeError:
                raise ValueError(f"language {lang!r} is not an ISO 639-1 code lingua knows") from None
        if len(codes) == 1:
            return None
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        if self.low_accuracy:
            builder = builder.with_low_accuracy_mode()
        return builder.build()

    def detect(self, text: str) -> str | None:
        cached = self._cache.get(text, "")
        if cached != "":
            return cached
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    self._detector = self._build() or False
        if self._detector is False:
            result: str | None = self.languages[0]
        else:
            values = self._detector.compute_language_confidence_values(text)
            result = None
            if values and values[0].value >= self.min_confidence:
                result = values[0].language.iso_code_639_1.name.lower()
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[text] = result
        return result

    def language_of(self, post: TextRecord) -> str | None:
        return post.lang or self.detect(post.text)

    def languages_of(self, posts: Sequence[TextRecord]) -> list[str | None]:
        return [self.language_of(post) for post in posts]
