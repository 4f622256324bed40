"""Factories for detector tests: real Post objects, real detectors (no mocks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from detectors.base import Finding
from detectors.config import DetectorConfig
from detectors.pii import PiiDetector
from detectors.registry import make_plan
from policies.post import Post


def _post(
    text: str, *, lang: str | None = None, jurisdiction: str | None = "FR", post_id: str = "p1"
) -> Post:
    return Post(
        id=post_id,
        source="internal",
        channel="teams",
        author={"id": "u-1"},
        text=text,
        lang=lang,
        jurisdiction=jurisdiction,
    )


@pytest.fixture
def make_post() -> Callable[..., Post]:
    return _post


@pytest.fixture(scope="session")
def pii_detector() -> PiiDetector:
    return PiiDetector(DetectorConfig())


@pytest.fixture
def find_pii(pii_detector: PiiDetector) -> Callable[..., list[tuple[str, str, float, str]]]:
    """(entity, matched text, score, recognizer) for one text, one entity, one jurisdiction."""

    def run(text: str, entity: str, jurisdiction: str = "FR") -> list[tuple[str, str, float, str]]:
        plan = make_plan(jurisdiction, pii_entities={entity})
        findings: list[Finding] = pii_detector.detect([_post(text, jurisdiction=jurisdiction)], plan)[0]
        return [(f.type, text[f.start : f.end], f.score, f.recognizer) for f in findings if f.type == entity]

    return run
