"""The risk classifier: reproducible from its corpus, measured on a test split it never saw, explained.

Quality floors sit about 0.1 under what the shipped model measured on the test split when it was
chosen (detectors/models/README.md has the table): loose enough that adding examples to the corpus does
not break CI by noise on splits of 10-20 positives per label, tight enough that a broken tokeniser,
a mismatch between training and scoring features, or a lost label (all of which drop these to ~0)
fails at once.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from detectors.base import DetectorPlan
from detectors.classifier import ArtefactError, ClassifierDetector, RiskClassifier, shipped_classifier
from detectors.classifier_features import features
from detectors.classifier_train import (
    DEFAULT_SEED,
    LABELS,
    THRESHOLD_BETA,
    THRESHOLD_GRID,
    Evaluation,
    Example,
    _f1,
    choose_threshold,
    evaluate,
    load_corpus,
    macro_f1,
    split_for,
    train,
)
from monitor.models_cli import app, shipped_artefact_path, shipped_corpus_dir
from policies.post import Post

# label: (precision floor, recall floor), both languages together. Measured on the 381-example test
# split (1,877 examples; detectors/models/README.md): promissory .71/.69, pumping .92/.65, mnpi .69/.58,
# special .54/.93, harassment .76/.67, disparagement .64/.64, promotion .94/.73, confidential .64/.64.
# The labels the second corpus pass grew were raised (never lowered) towards 0.1 under what they measure.
FLOORS: dict[str, tuple[float, float]] = {
    "promissory_claim": (0.55, 0.55),
    "pumping": (0.7, 0.5),
    "mnpi": (0.55, 0.45),
    "special_category": (0.4, 0.8),
    "harassment": (0.6, 0.6),
    # Precision weighs more in the threshold rule: P 0.82 R 0.45 on an earlier corpus, 0.64/0.64 now.
    "employer_disparagement": (0.6, 0.5),
    "financial_promotion": (0.75, 0.65),
    "confidential_sharing": (0.4, 0.5),
}
CLASSIFY = DetectorPlan("GLOBAL", detectors=frozenset({"classifier"}))


@pytest.fixture(scope="module")
def corpus_files() -> list[Path]:
    return sorted(shipped_corpus_dir().glob("*.jsonl"))


@pytest.fixture(scope="module")
def corpus(corpus_files: list[Path]) -> list[Example]:
    return load_corpus(corpus_files)


@pytest.fixture(scope="module")
def evaluation(corpus: list[Example]) -> Evaluation:
    return evaluate(shipped_classifier(), corpus)


def _post(text: str, lang: str | None = "en", post_id: str = "p1") -> Post:
    return Post(id=post_id, source="external", channel="x", author={"id": "u-1"}, text=text, lang=lang)


def test_shipped_artefact_is_a_fresh_build_of_the_corpus(corpus_files: list[Path]) -> None:
    assert train(corpus_files, DEFAULT_SEED) == shipped_artefact_path().read_bytes(), (
        "the shipped model is not what the corpus gives: run `veille models train` and commit the artefact"
    )


def test_corpus_size_languages_and_labels(corpus: list[Example]) -> None:
    assert len(corpus) >= 600
    assert sum(e.lang == "fr" for e in corpus) >= len(corpus) / 3
    for label in LABELS:
        for lang in ("en", "fr"):
            assert sum(label in e.labels and e.lang == lang for e in corpus) >= 30, (label, lang)
    negatives = [e for e in corpus if not e.labels]
    assert sum(e.lang == "fr" for e in negatives) >= 100 and sum(e.lang == "en" for e in negatives) >= 150


def test_split_is_the_hash_of_the_id_and_about_a_fifth(corpus: list[Example]) -> None:
    assert all(e.split == split_for(e.id) for e in corpus)
    share = sum(e.split == "test" for e in corpus) / len(corpus)
    assert 0.15 <= share <= 0.25


def test_the_model_never_saw_the_test_split(corpus: list[Example]) -> None:
    artefact = json.loads(shipped_artefact_path().read_bytes())
    assert artefact["corpus"]["train_examples"] == sum(e.split == "train" for e in corpus)


@pytest.mark.parametrize("label", LABELS)
def test_precision_and_recall_on_the_test_split(evaluation: Evaluation, label: str) -> None:
    score = evaluation.get(label, "all")
    precision_floor, recall_floor = FLOORS[label]
    assert score.precision >= precision_floor, score
    assert score.recall >= recall_floor, score


def test_threshold_is_the_middle_of_the_plateau_not_the_edge_of_a_cliff() -> None:
    positives = [0.27, 0.32, 0.52, 0.62, 0.72, 0.72]
    negatives = [0.27, 0.42, 0.47, 0.52, 0.62, 0.62]
    scores = np.asarray(positives + negatives)
    actual = np.asarray([True] * len(positives) + [False] * len(negatives))
    raw = {t: _f1(scores >= t, actual, THRESHOLD_BETA) for t in THRESHOLD_GRID}
    # The raw curve ties at 0.6 from 0.2 to 0.3 and again at 0.7, one step before it drops to 0: the
    # highest raw point would sit on the cliff, where a slightly different corpus loses every positive.
    assert max(raw, key=lambda t: (round(raw[t], 6), t)) == 0.7 and raw[0.75] == 0.0
    assert choose_threshold(scores, actual) == 0.2


def test_threshold_on_a_perfect_separation_is_the_highest() -> None:
    scores = np.asarray([0.9] * 5 + [0.1] * 5)
    actual = np.asarray([True] * 5 + [False] * 5)
    assert choose_threshold(scores, actual) == max(THRESHOLD_GRID)


def test_french_works_as_well_as_english_within_margin(evaluation: Evaluation) -> None:
    # Measured macro F1: en 0.68, fr 0.69.
    assert macro_f1(evaluation, "en") >= 0.58
    assert macro_f1(evaluation, "fr") >= 0.58


def test_hard_negatives_stay_under_threshold_in_aggregate(corpus: list[Example]) -> None:
    model = shipped_classifier()
    negatives = [e for e in corpus if e.split == "test" and not e.labels]
    flagged_per_label = {label: 0 for label in LABELS}
    for example in negatives:
        for label, score in model.score(example.text).items():
            flagged_per_label[label] += score >= model.thresholds[label]
    # Measured: 50 label thresholds reached over 176 negatives (special_category 19 of them).
    assert sum(flagged_per_label.values()) <= 0.5 * len(negatives)
    assert max(flagged_per_label.values()) <= 0.2 * len(negatives), flagged_per_label


@pytest.mark.parametrize(
    ("label", "text", "lang"),
    [
        (
            "promissory_claim",
            "Give me 50k and I promise you'll have 80k in two years, no downside whatsoever.",
            "en",
        ),
        (
            "promissory_claim",
            "Confiez-moi 50 000 € et je vous promets 80 000 € dans deux ans, sans baisse possible.",
            "fr",
        ),
        (
            "mnpi",
            "Le trimestre est clos : chiffre d'affaires en hausse de 40 %, bien au-dessus du consensus. "
            "On publie le 15, restez discrets.",
            "fr",
        ),
        ("harassment", "Personne ne t'aime, Kevin. Démissionne avant qu'on t'y oblige.", "fr"),
        (
            "financial_promotion",
            "Ouvre un compte de trading avec mon code parrain et reçois une action offerte !",
            "fr",
        ),
        ("pumping", "Everybody buy $ZYNX at the open, hold the line and don't sell until I say!", "en"),
    ],
)
def test_breaches_without_lexicon_keywords_are_found(label: str, text: str, lang: str) -> None:
    findings = ClassifierDetector().detect([_post(text, lang)], CLASSIFY)[0]
    assert label in {f.type for f in findings}


def test_findings_explain_with_phrases_present_in_the_text(corpus: list[Example]) -> None:
    detector = ClassifierDetector()
    explained = 0
    for example in (e for e in corpus if e.split == "test" and e.labels):
        for finding in detector.findings(example.text, example.lang):
            assert finding.detector == "classifier" and finding.type in LABELS
            assert (finding.start, finding.end) == (0, len(example.text))
            assert 0.0 <= finding.score <= 1.0
            assert finding.extra["threshold"] == shipped_classifier().thresholds[finding.type]
            phrases = finding.extra["phrases"]
            assert phrases and all(p["weight"] > 0 for p in phrases)
            for phrase in phrases:
                assert phrase["phrase"] and example.text[phrase["start"] : phrase["end"]] == phrase["phrase"]
            explained += 1
    assert explained >= 100


def test_scoring_reads_exactly_the_features_training_reads(corpus: list[Example]) -> None:
    # Scoring looks words' character n-grams up once and caches them; training spells them out with
    # classifier_features.features. Both must read the same features, the same number of times, and
    # credit each to the same first place in the text.
    model = shipped_classifier()
    for example in corpus[::7]:
        counts, spans = features(example.text, model.char_ngrams, with_spans=True)
        known = {name: n for name, n in counts.items() if name in model._index}
        assert Counter(model._rows(example.text).tolist()) == Counter(
            {model._index[name]: n for name, n in known.items()}
        )
        rows, credited = model._credits(example.text)
        assert list(zip(rows.tolist(), credited, strict=True)) == [
            (model._index[name], spans[name]) for name in known
        ]


def test_detector_honours_plan_language_and_labels() -> None:
    text = "Give me 50k and I promise you'll have 80k in two years, no downside whatsoever."
    posts = [_post(text, "en"), _post(text, "de", "p2"), _post("   ", "en", "p3")]
    assert ClassifierDetector().detect(posts, DetectorPlan("GLOBAL")) == [[], [], []]
    found = ClassifierDetector().detect(posts, CLASSIFY)
    assert [bool(f) for f in found] == [True, False, False]
    only_mnpi = ClassifierDetector(labels=["mnpi"]).detect(posts, CLASSIFY)[0]
    assert all(f.type == "mnpi" for f in only_mnpi)
    everything = ClassifierDetector(min_scores={label: 0.0 for label in LABELS}).detect(posts[:1], CLASSIFY)[
        0
    ]
    assert {f.type for f in everything} == set(LABELS)
    assert not all(f.extra["above_threshold"] for f in everything)
    detected = ClassifierDetector(detect_language=lambda _: "en").detect([_post(text, None)], CLASSIFY)
    assert detected[0]


def test_unknown_label_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown classifier label.*promissory_claim"):
        ClassifierDetector(labels=["promisory"]).detect([_post("hello")], CLASSIFY)


def test_a_file_that_is_not_an_artefact_says_how_to_rebuild() -> None:
    with pytest.raises(ArtefactError, match="veille models train"):
        RiskClassifier.from_bytes(b"\x80not json")
    with pytest.raises(ArtefactError, match="veille models train"):
        RiskClassifier.from_bytes(b'{"format": "something-else"}')


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the classifier tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.mark.usefixtures("no_network")
def test_loading_and_scoring_never_touch_the_network() -> None:
    model = RiskClassifier.shipped()
    assert set(model.score("Tu savais que Marc des ventes est sous chimio ?")) == set(LABELS)


def test_scoring_does_not_import_scikit_learn() -> None:
    code = (
        "import sys; from detectors.classifier import RiskClassifier; "
        "RiskClassifier.shipped().score('hello'); assert 'sklearn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_cli_check_fails_on_a_stale_artefact_and_evaluate_prints_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real build is covered above; a stand-in keeps this test to the CLI's own logic.
    monkeypatch.setattr("detectors.classifier_train.train", lambda paths, seed: b"fresh build")
    target = tmp_path / "model.json"
    target.write_bytes(b"{}")
    result = CliRunner().invoke(app, ["train", "--check", "--output", str(target)])
    assert result.exit_code == 1 and "veille models train" in result.output
    assert CliRunner().invoke(app, ["train", "--output", str(target)]).exit_code == 0
    assert target.read_bytes() == b"fresh build"
    assert CliRunner().invoke(app, ["train", "--check", "--output", str(target)]).exit_code == 0
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 0
    assert all(label in result.output for label in LABELS) and "fr" in result.output
