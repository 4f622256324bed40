"""Training and evaluation of the risk classifier: reproducible, offline, measured.

``train(corpus_paths, seed)`` returns the artefact's bytes; the same corpus and seed give the same
bytes on any machine (sorted vocabulary, weights rounded to 4 decimals, liblinear's deterministic
primal solver, JSON with sorted keys), which is what ``veille models train --check`` verifies.

Only the ``train`` split is ever fitted or cross-validated on. The split is a field of every corpus
line, set from a salted hash of the example id (``split_for``), so adding examples never moves old
ones between train and test. Hyper-parameters and thresholds are chosen by 5-fold cross-validation
on the train split; the test split is only read by ``evaluate``.

scikit-learn is imported only inside the fitting functions: the run-time detector never needs it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.catalogue import CLASSIFIER_LABELS
from detectors.classifier import ARTEFACT_FORMAT, RiskClassifier
from detectors.classifier_features import document_frequencies, features, smooth_idf, tfidf

LABELS: tuple[str, ...] = CLASSIFIER_LABELS
NEGATIVE = "none"
LANGUAGES: tuple[str, ...] = ("en", "fr")
SPLIT_SALT = "veille-corpus-split-v1"
TEST_SHARE = 0.2
DEFAULT_SEED = 20260412
FOLDS = 5
THRESHOLD_BETA = 0.7
WEIGHT_DECIMALS = 4
THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.2 + 0.05 * step, 2) for step in range(13))


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    lang: str
    labels: frozenset[str]
    provenance: str
    split: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One candidate: linear model, regularisation, character n-gram range and vocabulary floor."""

    name: str
    kind: str  # "logreg" or "svm"
    c: float
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 2


# The shipped model; CANDIDATES is what `veille models compare` measured it against.
CHOSEN = ModelSpec("logreg-w12-c25", "logreg", 10.0)
CANDIDATES: tuple[ModelSpec, ...] = (
    ModelSpec("logreg-w12", "logreg", 10.0, (0, 0)),
    ModelSpec("logreg-w12-c25-C3", "logreg", 3.0),
    CHOSEN,
    ModelSpec("logreg-w12-c25-C30", "logreg", 30.0),
    ModelSpec("logreg-w12-c35", "logreg", 10.0, (3, 5)),
    ModelSpec("logreg-w12-c35-C30", "logreg", 30.0, (3, 5)),
    ModelSpec("logreg-w12-c35-C30-df1", "logreg", 30.0, (3, 5), 1),
    ModelSpec("svm-w12-c25-C0.3", "svm", 0.3),
    ModelSpec("svm-w12-c25-C1", "svm", 1.0),
)


def split_for(example_id: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{example_id}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < TEST_SHARE else "train"


def load_corpus(paths: Iterable[Path]) -> list[Example]:
    """Every example of the JSONL files, validated: a wrong line names its file and line."""
    examples: list[Example] = []
    seen: set[str] = set()
    for path in sorted(paths):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not a JSON object ({exc.msg})") from None
            labels = frozenset(record["labels"])
            unknown = labels - set(LABELS) - {NEGATIVE}
            if unknown or not labels or (NEGATIVE in labels and len(labels) > 1):
                raise ValueError(f"{where}: labels {sorted(labels)} must be 'none' alone or from {LABELS}")
            if record["lang"] not in LANGUAGES:
                raise ValueError(f"{where}: lang {record['lang']!r} is not one of {LANGUAGES}")
            if record["id"] in seen:
                raise ValueError(f"{where}: duplicate id {record['id']!r}")
            if record["split"] != split_for(record["id"]):
                raise ValueError(f"{where}: split must be {split_for(record['id'])!r} (hash of the id)")
            if not record.get("provenance"):
                raise ValueError(f"{where}: every example needs its provenance")
            seen.add(record["id"])
            examples.append(
                Example(
                    record["id"],
                    record["text"],
                    record["lang"],
                    labels - {NEGATIVE},
                    record["provenance"],
                    record["split"],
                )
            )
    return examples


def corpus_digest(examples: Sequence[Example]) -> str:
    canonical = "\n".join(
        json.dumps([e.id, e.text, e.lang, sorted(e.labels), e.split], ensure_ascii=False)
        for e in sorted(examples, key=lambda e: e.id)
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Fitted:
    spec: ModelSpec
    idf: dict[str, float]
    weights: np.ndarray  # features x labels, rows in sorted vocabulary order
    bias: np.ndarray
    calibration: list[tuple[float, float]] = field(default_factory=list)


def _matrix(texts: Sequence[str], idf: dict[str, float], spec: ModelSpec) -> Any:
    from scipy.sparse import csr_matrix

    column = {name: index for index, name in enumerate(idf)}
    data: list[float] = []
    indices: list[int] = []
    pointers = [0]
    for text in texts:
        values = tfidf(features(text, spec.char_ngrams)[0], idf)
        for name in sorted(values, key=column.__getitem__):
            indices.append(column[name])
            data.append(values[name])
        pointers.append(len(indices))
    return csr_matrix((data, indices, pointers), shape=(len(texts), len(idf)))


def _vocabulary(texts: Sequence[str], spec: ModelSpec) -> dict[str, float]:
    frequencies = document_frequencies(texts, spec.char_ngrams)
    kept = sorted(name for name, df in frequencies.items() if df >= spec.min_df)
    return {name: smooth_idf(frequencies[name], len(texts)) for name in kept}


def _binary_margins(matrix: Any, targets: np.ndarray, spec: ModelSpec, seed: int) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    model: Any
    if spec.kind == "logreg":
        model = LogisticRegression(
            C=spec.c, solver="liblinear", class_weight="balanced", random_state=seed, max_iter=1000
        )
    elif spec.kind == "svm":
        model = LinearSVC(C=spec.c, class_weight="balanced", random_state=seed, max_iter=10000, dual=True)
    else:
        raise ValueError(f"unknown model kind {spec.kind!r}: use 'logreg' or 'svm'")
    model.fit(matrix, targets)
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])


def _folds(count: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(count)
    return [order[fold::FOLDS] for fold in range(FOLDS)]


def _platt(margins: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """A logistic score for SVM margins, fitted on cross-validated margins (Platt scaling)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, solver="lbfgs").fit(margins.reshape(-1, 1), targets)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def _fit(train: Sequence[Example], spec: ModelSpec, seed: int) -> _Fitted:
    texts = [e.text for e in train]
    idf = _vocabulary(texts, spec)
    matrix = _matrix(texts, idf, spec)
    weights = np.zeros((len(idf), len(LABELS)))
    bias = np.zeros(len(LABELS))
    for column, label in enumerate(LABELS):
        targets = np.asarray([label in e.labels for e in train], dtype=int)
        weights[:, column], bias[column] = _binary_margins(matrix, targets, spec, seed)
    return _Fitted(spec, idf, weights, bias, [(1.0, 0.0)] * len(LABELS))


def _margins(fitted: _Fitted, texts: Sequence[str]) -> np.ndarray:
    return np.asarray(_matrix(texts, fitted.idf, fitted.spec) @ fitted.weights) + fitted.bias


def cross_validated_margins(train: Sequence[Example], spec: ModelSpec, seed: int) -> np.ndarray:
    margins = np.zeros((len(train), len(LABELS)))
    for held_out in _folds(len(train), seed):
        held = set(held_out.tolist())
        fitted = _fit([e for i, e in enumerate(train) if i not in held], spec, seed)
        margins[held_out] = _margins(fitted, [train[i].text for i in held_out])
    return margins


def _f1(predicted: np.ndarray, actual: np.ndarray, beta: float = 1.0) -> float:
    hits = int((predicted & actual).sum())
    if not hits:
        return 0.0
    precision, recall = hits / int(predicted.sum()), hits / int(actual.sum())
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def _calibrate_and_threshold(
    fitted: _Fitted, train: Sequence[Example], margins: np.ndarray
) -> dict[str, float]:
    thresholds: dict[str, float] = {}
    for column, label in enumerate(LABELS):
        actual = np.asarray([label in e.labels for e in train])
        if fitted.spec.kind == "svm":
            fitted.calibration[column] = _platt(margins[:, column], actual.astype(int))
        scale, shift = fitted.calibration[column]
        probabilities = 1.0 / (1.0 + np.exp(-(scale * margins[:, column] + shift)))
        thresholds[label] = choose_threshold(probabilities, actual)
    return thresholds


def choose_threshold(probabilities: np.ndarray, actual: np.ndarray) -> float:
    """Highest F(0.7) over the grid, each point averaged with its neighbours; on a tie the higher.

    Precision weighs more: a false alert costs a reviewer, and the packs' lexicons already add recall.
    The curve is a plateau whose highest single point is noise (15 examples more moved one label's
    from 0.25 to 0.5); the middle of the plateau moves least with the next corpus change.
    """
    raw = [_f1(probabilities >= t, actual, THRESHOLD_BETA) for t in THRESHOLD_GRID]
    smoothed = [sum(raw[max(0, i - 1) : i + 2]) / len(raw[max(0, i - 1) : i + 2]) for i in range(len(raw))]
    return max(zip(THRESHOLD_GRID, smoothed, strict=True), key=lambda pair: (round(pair[1], 6), pair[0]))[0]


def _round(value: float) -> float:
    rounded = round(float(value), WEIGHT_DECIMALS)
    return rounded if rounded != 0 else 0.0  # never "-0.0": the bytes must not depend on a sign of zero


def _artefact(
    fitted: _Fitted, thresholds: dict[str, float], train: Sequence[Example], seed: int, corpus_sha256: str
) -> bytes:
    vocabulary = {
        name: [_round(fitted.idf[name]), *(_round(w) for w in fitted.weights[row])]
        for row, name in enumerate(fitted.idf)
    }
    document = {
        "format": ARTEFACT_FORMAT,
        "model": fitted.spec.name,
        "kind": fitted.spec.kind,
        "c": fitted.spec.c,
        "min_df": fitted.spec.min_df,
        "char_ngrams": list(fitted.spec.char_ngrams),
        "seed": seed,
        "labels": list(LABELS),
        "thresholds": thresholds,
        "bias": {label: _round(fitted.bias[i]) for i, label in enumerate(LABELS)},
        "calibration": {
            label: [_round(a), _round(b)] for label, (a, b) in zip(LABELS, fitted.calibration, strict=True)
        },
        "corpus": {"sha256": corpus_sha256, "train_examples": len(train)},
        "features": vocabulary,
    }
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def build(examples: Sequence[Example], spec: ModelSpec, seed: int) -> bytes:
    train = [e for e in examples if e.split == "train"]
    fitted = _fit(train, spec, seed)
    thresholds = _calibrate_and_threshold(fitted, train, cross_validated_margins(train, spec, seed))
    return _artefact(fitted, thresholds, train, seed, corpus_digest(examples))


def train(corpus_paths: Iterable[Path], seed: int = DEFAULT_SEED) -> bytes:
    """The artefact's bytes for the chosen model, from the corpus files' train split."""
    return build(load_corpus(corpus_paths), CHOSEN, seed)


@dataclass(frozen=True, slots=True)
class Score:
    label: str
    lang: str
    support: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    model: str
    sha256: str
    scores: tuple[Score, ...]
    hard_negatives: int
    hard_negatives_flagged: int

    def get(self, label: str, lang: str) -> Score:
        return next(s for s in self.scores if s.label == label and s.lang == lang)


def _score(label: str, lang: str, predicted: Sequence[bool], actual: Sequence[bool]) -> Score:
    hits = sum(p and a for p, a in zip(predicted, actual, strict=True))
    flagged, support = sum(predicted), sum(actual)
    precision = hits / flagged if flagged else (1.0 if not support else 0.0)
    recall = hits / support if support else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(label, lang, support, precision, recall, f1)


def evaluate(model: RiskClassifier, examples: Sequence[Example]) -> Evaluation:
    """Per-label precision/recall/F1 on the test split, per language and together."""
    test = [e for e in examples if e.split == "test"]
    scored = model.scores(e.text for e in test)
    predicted = [{label for label, p in s.items() if p >= model.thresholds[label]} for s in scored]
    scores = []
    for label in model.labels:
        for lang in (*LANGUAGES, "all"):
            rows = [i for i, e in enumerate(test) if lang in ("all", e.lang)]
            scores.append(
                _score(
                    label,
                    lang,
                    [label in predicted[i] for i in rows],
                    [label in test[i].labels for i in rows],
                )
            )
    negatives = [i for i, e in enumerate(test) if not e.labels]
    flagged = sum(1 for i in negatives if predicted[i])
    return Evaluation(model.model, model.sha256, tuple(scores), len(negatives), flagged)


def format_evaluation(evaluation: Evaluation) -> str:
    lines = [
        f"model {evaluation.model} sha256 {evaluation.sha256[:16]}… (test split)",
        f"{'label':<24}{'lang':<5}{'n':>4}{'prec':>7}{'rec':>7}{'F1':>7}",
    ]
    for s in evaluation.scores:
        lines.append(f"{s.label:<24}{s.lang:<5}{s.support:>4}{s.precision:>7.2f}{s.recall:>7.2f}{s.f1:>7.2f}")
    lines.append(
        f"negatives flagged with any label: {evaluation.hard_negatives_flagged}/{evaluation.hard_negatives}"
    )
    return "\n".join(lines)


def macro_f1(evaluation: Evaluation, lang: str = "all") -> float:
    return sum(s.f1 for s in evaluation.scores if s.lang == lang) / len(LABELS)


def compare(
    examples: Sequence[Example], seed: int = DEFAULT_SEED, candidates: Sequence[ModelSpec] = CANDIDATES
) -> list[dict[str, Any]]:
    """Each candidate's cross-validated macro F1 on train (what chooses) and test scores (what reports)."""
    train = [e for e in examples if e.split == "train"]
    rows = []
    for spec in candidates:
        margins = cross_validated_margins(train, spec, seed)
        fitted = _fit(train, spec, seed)
        thresholds = _calibrate_and_threshold(fitted, train, margins)
        cv_f1 = []
        for column, label in enumerate(LABELS):
            scale, shift = fitted.calibration[column]
            probabilities = 1.0 / (1.0 + np.exp(-(scale * margins[:, column] + shift)))
            cv_f1.append(
                _f1(probabilities >= thresholds[label], np.asarray([label in e.labels for e in train]))
            )
        artefact = _artefact(fitted, thresholds, train, seed, corpus_digest(examples))
        evaluation = evaluate(RiskClassifier.from_bytes(artefact), examples)
        rows.append(
            {
                "model": spec.name,
                "cv_macro_f1": round(sum(cv_f1) / len(cv_f1), 3),
                "test_macro_f1": round(macro_f1(evaluation), 3),
                "test_macro_f1_en": round(macro_f1(evaluation, "en"), 3),
                "test_macro_f1_fr": round(macro_f1(evaluation, "fr"), 3),
                "negatives_flagged": f"{evaluation.hard_negatives_flagged}/{evaluation.hard_negatives}",
                "features": len(fitted.idf),
                "artefact_kib": math.ceil(len(artefact) / 1024),
            }
        )
    return rows
