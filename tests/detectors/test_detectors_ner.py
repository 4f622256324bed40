"""NER (spaCy, ner component only) and the rule that a plan without NER entities loads no model."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from detectors.config import DetectorConfig
from detectors.ner import ModelNotFoundError, NerDetector
from detectors.registry import make_plan


@pytest.fixture(scope="module")
def ner() -> NerDetector:
    return NerDetector(DetectorConfig())


def test_names_and_places_in_both_languages(ner, make_post) -> None:
    posts = [
        make_post("Merci Jean Dupont, rendez-vous à Lyon demain.", lang="fr"),
        make_post("John Smith flew to London yesterday.", lang="en"),
    ]
    fr, en = ner.detect(posts, make_plan("FR", pii_entities={"PERSON", "LOCATION"}))
    spans = lambda post, found: [(f.type, post.text[f.start : f.end]) for f in found]  # noqa: E731
    assert ("PERSON", "Jean Dupont") in spans(posts[0], fr)
    assert ("LOCATION", "Lyon") in spans(posts[0], fr)
    # The French model's "Merci" person is trimmed to the name.
    assert all(not posts[0].text[f.start : f.end].startswith("Merci") for f in fr)
    assert ("PERSON", "John Smith") in spans(posts[1], en)
    assert ("LOCATION", "London") in spans(posts[1], en)
    for finding in (*fr, *en):
        assert (finding.detector, finding.recognizer, finding.score) == ("pii", "SpacyRecognizer", 0.85)
    assert ner.model("en").pipe_names == ["ner"]


def test_only_planned_ner_entities(ner, make_post) -> None:
    post = make_post("John Smith flew to London yesterday.", lang="en")
    found = ner.detect([post], make_plan("GB", pii_entities={"LOCATION"}))[0]
    assert {f.type for f in found} == {"LOCATION"}


def test_no_model_for_language_no_finding(ner, make_post) -> None:
    post = make_post("Hans Müller wohnt in Berlin.", lang="de")
    assert ner.detect([post], make_plan("DE", pii_entities={"PERSON"})) == [[]]


def test_missing_model_is_a_clear_error(make_post) -> None:
    detector = NerDetector(DetectorConfig(spacy_models={"en": "en_core_web_nope"}))
    with pytest.raises(ModelNotFoundError, match="spacy_models\\['en'\\]"):
        detector.detect([make_post("John Smith", lang="en")], make_plan("US", pii_entities={"PERSON"}))


def test_plan_without_ner_never_loads_a_model() -> None:
    # A fresh interpreter, so that no other test's model can be in sys.modules.
    script = textwrap.dedent(
        """
        import sys
        from policies.post import Post
        from detectors.catalogue import PATTERN_TYPES, PATTERN_PII_ENTITIES
        from detectors.registry import build_detectors, make_plan

        plan = make_plan("FR", pii_entities=PATTERN_PII_ENTITIES, patterns=PATTERN_TYPES,
                         lexicon_lists={"c": ("confidentiel",)}, sentiment=True)
        posts = [Post(id=str(i), source="internal", channel="t", author={"id": "a"}, text=text)
                 for i, text in enumerate(["Jean Dupont habite à Paris, 06 12 34", "John Smith, London"])]
        detectors = build_detectors()
        for detector in detectors:
            detector.detect(posts, plan)
        ner = detectors[-1]
        assert ner.name == "ner" and not ner.loaded_languages, ner.loaded_languages
        loaded = sorted(name for name in sys.modules if name.startswith(("en_core", "fr_core")))
        assert not loaded, loaded
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
