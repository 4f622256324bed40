"""The one place Presidio is imported: makes it offline-safe before its first import.

Presidio's e-mail recognizer uses tldextract, which fetches the public suffix list over the
network unless told not to; the empty URL list makes it use the snapshot bundled in the wheel.
Import Presidio only through this module (or after importing it).
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from presidio_analyzer import (
    EntityRecognizer,
    LocalRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
    predefined_recognizers,
)

__all__ = [
    "EntityRecognizer",
    "LocalRecognizer",
    "Pattern",
    "PatternRecognizer",
    "RecognizerResult",
    "predefined_recognizers",
]
