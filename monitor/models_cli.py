"""`veille models ...`: rebuild, check and evaluate the shipped risk classifier, export reviewers' verdicts.

Retraining is an explicit, versioned step: `train` rewrites the artefact from the corpus and the
seed, and `train --check` (CI) fails when the shipped file is not what the corpus gives, so a corpus
change can never ship without its model, nor a model without its corpus. `export-feedback` turns
verdicts into candidate examples and never touches the corpus itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="Train, check and evaluate the risk classifier.")

CorpusDir = Annotated[
    Path | None,
    typer.Option(
        "--corpus", help="directory of labelled *.jsonl files (default: the shipped policies/corpus)"
    ),
]
Seed = Annotated[int | None, typer.Option(help="training seed (default: the one the shipped model used)")]


def shipped_corpus_dir() -> Path:
    return Path(str(resources.files("policies").joinpath("corpus")))


def shipped_artefact_path() -> Path:
    from detectors.classifier import ARTEFACT_RESOURCE

    return Path(str(resources.files("detectors").joinpath(ARTEFACT_RESOURCE)))


def _corpus_files(corpus: Path | None) -> list[Path]:
    directory = corpus or shipped_corpus_dir()
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        typer.echo(f"no *.jsonl corpus files in {directory}", err=True)
        raise typer.Exit(2)
    return files


@app.command()
def train(
    corpus: CorpusDir = None,
    seed: Seed = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="where to write (default: the shipped artefact)")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 if the artefact differs from a fresh build")
    ] = False,
) -> None:
    """Rebuild the artefact from the corpus's train split and the seed, byte for byte."""
    from detectors.classifier_train import DEFAULT_SEED
    from detectors.classifier_train import train as build_artefact

    target = output or shipped_artefact_path()
    data = build_artefact(_corpus_files(corpus), DEFAULT_SEED if seed is None else seed)
    digest = hashlib.sha256(data).hexdigest()
    if check:
        current = target.read_bytes() if target.exists() else b""
        if current != data:
            typer.echo(
                f"{target} differs from a fresh build (sha256 {digest}): "
                "run `veille models train` and commit it",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"OK: {target} is the build of the corpus (sha256 {digest})")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    typer.echo(f"wrote {target}: {len(data)} bytes, sha256 {digest}")


@app.command()
def evaluate(
    corpus: CorpusDir = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="artefact to evaluate (default: the shipped one)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Per-label, per-language precision/recall/F1 on the test split (never trained on)."""
    from detectors.classifier import RiskClassifier
    from detectors.classifier_train import evaluate as run_evaluation
    from detectors.classifier_train import format_evaluation, load_corpus

    classifier = RiskClassifier.from_bytes((model or shipped_artefact_path()).read_bytes())
    result = run_evaluation(classifier, load_corpus(_corpus_files(corpus)))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "model": result.model,
                    "sha256": result.sha256,
                    "negatives": result.hard_negatives,
                    "negatives_flagged": result.hard_negatives_flagged,
                    "scores": [
                        {
                            "label": s.label,
                            "lang": s.lang,
                            "support": s.support,
                            "precision": round(s.precision, 4),
                            "recall": round(s.recall, 4),
                            "f1": round(s.f1, 4),
                        }
                        for s in result.scores
                    ],
                },
                indent=2,
            )
        )
        return
    typer.echo(format_evaluation(result))


@app.command()
def compare(corpus: CorpusDir = None, seed: Seed = None) -> None:
    """Measure every candidate model (cross-validated on train, reported on test): how CHOSEN was picked."""
    from detectors.classifier_train import DEFAULT_SEED, load_corpus
    from detectors.classifier_train import compare as run_comparison

    rows = run_comparison(load_corpus(_corpus_files(corpus)), DEFAULT_SEED if seed is None else seed)
    columns = list(rows[0])
    typer.echo("  ".join(columns))
    for row in rows:
        typer.echo("  ".join(str(row[column]) for column in columns))


@app.command("export-feedback")
def export_feedback(
    database_url: Annotated[
        str | None,
        typer.Option(envvar="VEILLE_DATABASE_URL", help="alert store (default: the configured one)"),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="JSONL file to write, '-' for stdout")
    ] = Path("-"),
    since: Annotated[
        datetime | None, typer.Option(help="only alerts raised at or after this time (ISO 8601)")
    ] = None,
) -> None:
    """Reviewers' verdicts on classifier-driven alerts as labelled examples in the corpus format.

    True positives become positives of the label the rule's classifier predicate read, false
    positives hard negatives. Review them, then add them to policies/corpus/ yourself and run
    `veille models train`: nothing is added to the corpus or retrained here.
    """
    from alerts.model import AlertStatus
    from alerts.query import AlertQuery
    from alerts.store import SqlAlertStore
    from detectors.language import LanguageDetector
    from detectors.registry import build_detectors
    from monitor.feedback import ExportCounts, PersonalDataMask, feedback_examples
    from monitor.settings import Settings

    if str(output) != "-" and output.resolve().is_relative_to(shipped_corpus_dir().resolve()):
        typer.echo(
            f"refusing to write into the corpus ({shipped_corpus_dir()}): export elsewhere, review the "
            "examples, then add the ones you keep and run `veille models train`",
            err=True,
        )
        raise typer.Exit(2)
    settings = Settings()
    store = SqlAlertStore.open(database_url or settings.resolved_database_url)
    when = since if since is None or since.tzinfo else since.replace(tzinfo=UTC)

    def closed_alerts() -> Iterator[Any]:
        cursor = None
        while True:
            page = store.query(
                AlertQuery(status=[AlertStatus.CLOSED], since=when, limit=500, cursor=cursor)
            )
            yield from page.data
            cursor = page.next_cursor
            if cursor is None:
                return

    counts = ExportCounts()
    languages = LanguageDetector(("en", "fr"))
    mask = PersonalDataMask(build_detectors(settings.detector_config()))
    try:
        examples = feedback_examples(closed_alerts(), counts, languages.detect, mask)
    finally:
        store.close()
    lines = "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples)
    if str(output) == "-":
        typer.echo(lines, nl=False)
    else:
        output.write_text(lines, encoding="utf-8")
    typer.echo(
        f"{counts.exported} example(s) from {counts.alerts} reviewed alert(s) (true/false positive); "
        f"skipped: {counts.not_classifier} not classifier-driven, {counts.anonymised} anonymised, "
        f"{counts.unknown_language} in another language. Texts are the stored excerpts (at most "
        f"200 characters), personal data and names masked: review before adding to the corpus.",
        err=True,
    )
