"""The ``classifier`` detector: trained risk labels for what the packs' lexicons cannot enumerate.

A one-vs-rest linear model over word and character n-grams (``classifier_features.py``), trained in
the repository from ``policies/corpus/`` by ``classifier_train.py`` and shipped as plain JSON
(``detectors/models/risk_classifier.json``): loading it parses numbers, never runs code (no pickle),
never touches the network, and the file is byte-reproducible, so its SHA-256 can join the policy
version stamped on alerts. scikit-learn is needed to train, never to score: a score is the logistic
of ``bias + Σ tfidf(feature) × weight``, computed here from the stored vocabulary.

Only English and French are scored (the corpus languages); a post in another language, or whose
language cannot be told, gets no finding, as with sentiment: a confident score on German text would
be a guess. Measured choices, corpus sizes and per-label quality: ``detectors/models/README.md``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar, Protocol

import numpy as np

from detectors.base import DetectorPlan, Finding
from detectors.classifier_features import is_char_feature, tokens, word_char_ngrams

ARTEFACT_FORMAT = "veille-risk-classifier/1"
ARTEFACT_RESOURCE = "models/risk_classifier.json"
LANGUAGES: frozenset[str] = frozenset({"en", "fr"})
TOP_PHRASES = 5
TOKEN_CACHE_LIMIT = 200_000  # words whose character n-grams are remembered (a few MB)


class TextRecord(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def lang(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words of the post that pushed a label's score up, with their summed contribution."""

    text: str
    start: int
    end: int
    weight: float

    def as_dict(self) -> dict[str, Any]:
        return {"phrase": self.text, "start": self.start, "end": self.end, "weight": self.weight}


class LazyExtra(Mapping[str, Any]):
    """A finding's ``extra`` whose one costly key is computed on first read, then kept."""

    def __init__(self, values: Mapping[str, Any], key: str, compute: Callable[[], Any]) -> None:
        self._values = dict(values)
        self._key = key
        self._compute: Callable[[], Any] | None = compute

    def __getitem__(self, key: str) -> Any:
        if key == self._key and self._compute is not None:
            self._values[key] = self._compute()
            self._compute = None
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._values, *([self._key] if self._compute is not None else [])])

    def __len__(self) -> int:
        return len(self._values) + (self._compute is not None)

    def __repr__(self) -> str:
        return f"LazyExtra({dict(self)!r})"


class ArtefactError(ValueError):
    """The model file is not one this code can score with; the message says how to rebuild it."""


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


class RiskClassifier:
    """Scores texts per label from a parsed artefact."""

    def __init__(self, artefact: Mapping[str, Any], sha256: str) -> None:
        if artefact.get("format") != ARTEFACT_FORMAT:
            raise ArtefactError(
                f"model format {artefact.get('format')!r} is not {ARTEFACT_FORMAT!r}: "
                "rebuild it with `veille models train`"
            )
        self.sha256 = sha256
        self.labels: tuple[str, ...] = tuple(artefact["labels"])
        self.thresholds: dict[str, float] = {
            label: float(artefact["thresholds"][label]) for label in self.labels
        }
        self.char_ngrams: tuple[int, int] = (int(artefact["char_ngrams"][0]), int(artefact["char_ngrams"][1]))
        self.model: str = str(artefact["model"])
        vocabulary: Mapping[str, Sequence[float]] = artefact["features"]
        self._index = {name: row for row, name in enumerate(vocabulary)}
        rows = np.asarray(list(vocabulary.values()), dtype=np.float64).reshape(len(vocabulary), -1)
        if rows.shape[1] != len(self.labels) + 1:
            raise ArtefactError(
                f"each feature needs an idf and {len(self.labels)} weights; rebuild the model"
            )
        self._idf = rows[:, 0].copy()
        self._is_char = np.fromiter(
            (is_char_feature(name) for name in vocabulary), dtype=bool, count=len(rows)
        )
        self._weights = np.ascontiguousarray(rows[:, 1:])
        self._bias = np.asarray([artefact["bias"][label] for label in self.labels], dtype=np.float64)
        scale_shift = [artefact["calibration"][label] for label in self.labels]
        self._scale = np.asarray([pair[0] for pair in scale_shift], dtype=np.float64)
        self._shift = np.asarray([pair[1] for pair in scale_shift], dtype=np.float64)
        self._token_rows: dict[str, np.ndarray] = {}

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskClassifier:
        try:
            artefact = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtefactError(
                f"model file is not JSON ({exc}); rebuild it with `veille models train`"
            ) from None
        return cls(artefact, hashlib.sha256(data).hexdigest())

    @classmethod
    def shipped(cls) -> RiskClassifier:
        """The artefact shipped as package data with this version of Veille."""
        return cls.from_bytes(shipped_artefact_bytes())

    def _rows(self, text: str) -> np.ndarray:
        """The vocabulary rows of ``features(text)``, one entry per occurrence, without spelling every
        character n-gram of every word again: a word's n-gram rows are looked up once and cached."""
        index = self._index
        words: list[int] = []
        parts: list[np.ndarray] = []
        previous: str | None = None
        for token, _, _ in tokens(text):
            row = index.get("w:" + token)
            if row is not None:
                words.append(row)
            if previous is not None:
                row = index.get(f"b:{previous} {token}")
                if row is not None:
                    words.append(row)
            previous = token
            parts.append(self._char_rows(token))
        return np.concatenate([np.asarray(words, dtype=np.intp), *parts])

    def _char_rows(self, token: str) -> np.ndarray:
        cached = self._token_rows.get(token)
        if cached is None:
            low, high = self.char_ngrams
            index = self._index
            grams = word_char_ngrams(token, low, high) if high else iter(())
            found = (index.get("c:" + gram) for gram in grams)
            cached = np.asarray([row for row in found if row is not None], dtype=np.intp)
            if len(self._token_rows) >= TOKEN_CACHE_LIMIT:
                self._token_rows.clear()
            self._token_rows[token] = cached
        return cached

    def _tfidf(self, rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(rows):
            return rows, np.empty(0)
        tf = 1.0 + np.log(counts)
        values = tf * self._idf[rows]
        # Word and character blocks are normalised apart, exactly as classifier_features.tfidf does.
        chars = self._is_char[rows]
        for block in (chars, ~chars):
            norm = np.sqrt(values[block] @ values[block])
            if norm:
                values[block] /= norm
        return rows, values

    def _probabilities(self, margins: np.ndarray) -> np.ndarray:
        z = self._scale * margins + self._shift
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, text: str) -> dict[str, float]:
        return self.scores([text])[0]

    def scores(self, texts: Iterable[str]) -> list[dict[str, float]]:
        return [dict(zip(self.labels, row, strict=True)) for row in self.probabilities(texts).tolist()]

    def probabilities(self, texts: Iterable[str]) -> np.ndarray:
        """One row of label probabilities per text, the whole batch in a few array operations."""
        per_text = [self._rows(text) for text in texts]
        if not per_text:
            return np.empty((0, len(self.labels)))
        size = len(self._idf)
        owner = np.repeat(np.arange(len(per_text), dtype=np.intp), [len(rows) for rows in per_text])
        # One key per (text, feature): counting keys counts each feature within its text.
        keys, counts = np.unique(owner * size + np.concatenate(per_text), return_counts=True)
        texts_of, rows = np.divmod(keys, size)
        values = (1.0 + np.log(counts)) * self._idf[rows]
        # Word and character blocks are normalised apart, exactly as classifier_features.tfidf does.
        blocks = texts_of * 2 + self._is_char[rows]
        norms = np.sqrt(np.bincount(blocks, weights=values * values, minlength=2 * len(per_text)))
        values = values / np.where(norms[blocks] > 0, norms[blocks], 1.0)
        margins = np.tile(self._bias, (len(per_text), 1))
        if len(keys):
            # Keys are sorted, so each text's features are one contiguous run.
            present, starts = np.unique(texts_of, return_index=True)
            margins[present] += np.add.reduceat(values[:, None] * self._weights[rows], starts, axis=0)
        return self._probabilities(margins)

    def explain(self, text: str, label: str, top: int = TOP_PHRASES) -> list[Phrase]:
        """The words and phrases of ``text`` whose features pushed ``label`` up the most."""
        return self.explain_labels(text, [label], top)[label]

    def explain_labels(
        self, text: str, labels: Sequence[str], top: int = TOP_PHRASES
    ) -> dict[str, list[Phrase]]:
        """For each label, the words and phrases of ``text`` whose features pushed it up the most.

        Each feature is credited, once, to the first place it was read: character n-grams to their word,
        word bigrams to the two words, so that every phrase is a slice of the text a reviewer can find.
        """
        rows, counts = np.unique(self._rows(text), return_counts=True)
        rows, values = self._tfidf(rows, counts.astype(np.float64))
        if not len(rows):
            return {label: [] for label in labels}
        value_of = dict(zip(rows.tolist(), values.tolist(), strict=True))
        credited, spans = self._credits(text)
        credited_values = np.fromiter(
            (value_of[row] for row in credited), dtype=np.float64, count=len(credited)
        )
        explained = {}
        for label in labels:
            contributions = credited_values * self._weights[credited, self.labels.index(label)]
            by_span: dict[tuple[int, int], float] = {}
            for span, contribution in zip(spans, contributions.tolist(), strict=True):
                by_span[span] = by_span.get(span, 0.0) + contribution
            ranked = sorted(
                ((w, sp) for sp, w in by_span.items() if w > 0), key=lambda item: (-item[0], item[1])
            )
            explained[label] = [
                Phrase(text[start:end], start, end, round(weight, 4)) for weight, (start, end) in ranked[:top]
            ]
        return explained

    def _credits(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Every known feature's row, in the order first read, with the span it was first read from."""
        index = self._index
        seen: set[int] = set()
        rows: list[int] = []
        spans: list[tuple[int, int]] = []

        def credit(row: int | None, span: tuple[int, int]) -> None:
            if row is not None and row not in seen:
                seen.add(row)
                rows.append(row)
                spans.append(span)

        previous: tuple[str, int] | None = None
        for token, start, end in tokens(text):
            credit(index.get("w:" + token), (start, end))
            if previous is not None:
                credit(index.get(f"b:{previous[0]} {token}"), (previous[1], end))
            previous = (token, start)
            for row in self._char_rows(token).tolist():
                credit(row, (start, end))
        return np.asarray(rows, dtype=np.intp), spans


def shipped_artefact_bytes() -> bytes:
    return resources.files("detectors").joinpath(ARTEFACT_RESOURCE).read_bytes()


def shipped_artefact_sha256() -> str:
    """The shipped model's SHA-256, without parsing it: part of the policy version on every alert."""
    return hashlib.sha256(shipped_artefact_bytes()).hexdigest()


_shipped: RiskClassifier | None = None
_shipped_lock = threading.Lock()


def shipped_classifier() -> RiskClassifier:
    """One parsed copy of the shipped model per process (parsing costs a fraction of a second)."""
    global _shipped
    if _shipped is None:
        with _shipped_lock:
            if _shipped is None:
                _shipped = RiskClassifier.shipped()
    return _shipped


class ClassifierDetector:
    """Reports each label whose score reaches its reporting floor, with the phrases behind it.

    The plan names the labels and their floors (``DetectorPlan.classifier_min_scores``: the policy
    compiler passes the lowest ``min_score`` its rules ask for per label); without them, ``labels``
    and ``min_scores`` given here apply, and by default every label at the model's own threshold,
    chosen by cross-validation on the training split. A finding always carries that threshold, so
    the "why" trace shows the score against it.
    """

    name: ClassVar[str] = "classifier"

    def __init__(
        self,
        model: RiskClassifier | None = None,
        *,
        labels: Iterable[str] | None = None,
        min_scores: Mapping[str, float] | None = None,
        detect_language: Callable[[str], str | None] | None = None,
    ) -> None:
        self._model = model
        self._labels = tuple(labels) if labels is not None else None
        self._min_scores = dict(min_scores or {})
        self._detect_language = detect_language

    @property
    def model(self) -> RiskClassifier:
        if self._model is None:
            self._model = shipped_classifier()
        return self._model

    def floors(self, plan: DetectorPlan | None = None) -> dict[str, float]:
        """Label → the lowest score reported: the plan's (what its rules ask for), else this
        detector's own ``labels`` / ``min_scores``, else every label at the model's threshold."""
        model = self.model
        known = model.labels
        if plan is not None and plan.classifier_min_scores:
            wanted: dict[str, float] = dict(plan.classifier_min_scores)
        else:
            labels = self._labels if self._labels is not None else known
            wanted = {label: model.thresholds.get(label, 0.0) for label in labels}
            wanted.update(self._min_scores)
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise ValueError(f"unknown classifier label(s) {unknown}; the model knows {list(known)}")
        return wanted

    def _language(self, record: TextRecord) -> str | None:
        if record.lang:
            return record.lang
        return self._detect_language(record.text) if self._detect_language else None

    def findings(
        self, text: str, lang: str | None, floors: Mapping[str, float] | None = None
    ) -> list[Finding]:
        return self._findings([text], [lang], self.floors() if floors is None else floors)[0]

    def _findings(
        self, texts: Sequence[str], langs: Sequence[str | None], floors: Mapping[str, float]
    ) -> list[list[Finding]]:
        pairs = enumerate(zip(texts, langs, strict=True))
        scored = [i for i, (text, lang) in pairs if lang in LANGUAGES and text.strip()]
        results: list[list[Finding]] = [[] for _ in texts]
        if not scored:
            return results
        model = self.model
        for i, scores in zip(scored, model.scores(texts[i] for i in scored), strict=True):
            results[i] = self._reported(texts[i], scores, floors)
        return results

    def _reported(
        self, text: str, scores: Mapping[str, float], floors: Mapping[str, float]
    ) -> list[Finding]:
        model = self.model
        reported = {
            label: score for label, score in scores.items() if label in floors and score >= floors[label]
        }
        if not reported:
            return []
        # Most findings are read by no rule that matches: their phrases are worked out only when
        # read (a clause, `veille policies explain`), one pass over the post for every label reported.
        explained: dict[str, list[dict[str, Any]]] = {}

        def phrases(label: str) -> list[dict[str, Any]]:
            if not explained:
                for name, found in model.explain_labels(text, list(reported)).items():
                    explained[name] = [phrase.as_dict() for phrase in found]
            return explained[label]

        found = []
        for label, score in reported.items():
            threshold = model.thresholds[label]
            found.append(
                Finding(
                    "classifier",
                    label,
                    0,
                    len(text),
                    round(score, 4),
                    f"risk_classifier:{model.sha256[:12]}",
                    LazyExtra(
                        {
                            "threshold": threshold,
                            "above_threshold": score >= threshold,
                            "model": model.model,
                            "model_sha256": model.sha256,
                        },
                        "phrases",
                        functools.partial(phrases, label),
                    ),
                )
            )
        return found

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]:
        if not plan.wants(self.name):
            return [[] for _ in posts]
        texts = [post.text for post in posts]
        return self._findings(texts, [self._language(post) for post in posts], self.floors(plan))
