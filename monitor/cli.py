"""The `veille` command."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from monitor.process import configure_logging
from monitor.settings import Settings

app = typer.Typer(
    name="veille",
    help="Governance and social-media risk compliance monitor.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
schema_app = typer.Typer(help="Print published JSON Schemas.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


def _mount_policies() -> None:
    from monitor.backtest import backtest_command
    from policies.cli import app as policies_app

    # The backtest reads Kafka and the alert store, which the policies layer must not import.
    policies_app.command("backtest")(backtest_command)
    app.add_typer(
        policies_app, name="policies", help="Validate, test, explain, list and backtest the policy packs."
    )


_mount_policies()


def _mount_review() -> None:
    from monitor.admin_cli import audit_app, retention_app, tokens_app
    from monitor.cases_cli import cases_app
    from monitor.supervision_cli import supervision_app

    app.add_typer(supervision_app, name="supervision")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.add_typer(cases_app, name="cases")


_mount_review()


def _mount_gdpr() -> None:
    from monitor.gdpr_cli import gdpr_app

    app.add_typer(gdpr_app, name="gdpr")


_mount_gdpr()


def _mount_ingest() -> None:
    from monitor.ingest.cli import ingest

    app.command()(ingest)


_mount_ingest()


def _mount_models() -> None:
    from monitor.models_cli import app as models_app

    app.add_typer(
        models_app, name="models", help="Train, check and evaluate the classifier; export verdicts."
    )


_mount_models()


class DetectMode(StrEnum):
    PLAN = "plan"
    ALL = "all"


def _settings() -> Settings:
    return Settings()


@app.command()
def run(
    workers: Annotated[int, typer.Option(min=1, help="Consumer processes in the same group.")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Consume posts from Kafka, raise alerts, commit offsets once alerts are stored."""
    configure_logging(verbose)
    settings = _settings()
    if workers == 1:
        from monitor.runner import run_worker

        run_worker(settings)
    else:
        from monitor.workers import run_workers

        raise typer.Exit(run_workers(settings, workers))


@app.command()
def deliver(
    status: Annotated[bool, typer.Option("--status", help="Print each sink's cursor and backlog, then exit.")]
    = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Deliver stored alerts to the sinks from the outbox (when VEILLE_DELIVERY_IN_WORKERS is false)."""
    configure_logging(verbose)
    if status:
        from monitor.delivery import delivery_status

        for row in delivery_status(_settings()):
            typer.echo(json.dumps(row, default=str))
        return
    from monitor.delivery import run_delivery

    run_delivery(_settings())


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: VEILLE_API_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port to bind (default: VEILLE_API_PORT).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve the HTTP API, the web console and /metrics."""
    configure_logging(verbose)
    from api.server import serve

    settings = _settings()
    # The flags win over the environment, as uvicorn's do; unset flags leave the settings alone.
    given = {"api_host": host, "api_port": port}
    serve(settings.model_copy(update={k: v for k, v in given.items() if v is not None}))


@app.command()
def demo(
    rate: Annotated[float, typer.Option(min=0.1, help="Generated posts per second.")] = 20.0,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    api_port: Annotated[int | None, typer.Option(help="Port of the API (default: VEILLE_API_PORT).")] = None,
) -> None:
    """Start a local broker, a worker, the API and a stream of sample posts. Ctrl-C stops all."""
    configure_logging()
    from monitor.demo import run_demo

    run_demo(_settings(), rate=rate, workers=workers, api_port=api_port)


@app.command()
def produce(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSONL, one Post a line.")
    ],
) -> None:
    """Send posts from a JSONL file to the input topics (internal/external by the post's source)."""
    configure_logging()
    from monitor.produce import produce_file

    report = produce_file(_settings(), file)
    typer.echo(f"sent {report.sent} posts, {len(report.invalid)} invalid lines not sent", err=True)
    if report.invalid:
        raise typer.Exit(1)


@app.command()
def scan(
    input: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSONL of posts.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSONL of results; '-' for stdout.")] = Path(
        "-"
    ),
    detect: Annotated[
        DetectMode,
        typer.Option(
            help="plan: what the rules need (as `veille run`); all: every detector and entity on every post."
        ),
    ] = DetectMode.PLAN,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr.")] = True,
) -> None:
    """Run the detectors and rules over a JSONL export, without Kafka."""
    from monitor.pipeline import build_pipeline
    from monitor.scan import scan_file

    pipeline = build_pipeline(_settings(), detect_all=detect is DetectMode.ALL, sampling=False)
    if str(output) == "-":
        summary = scan_file(pipeline, input, sys.stdout, show_progress=progress)
    else:
        with output.open("w", encoding="utf-8") as handle:
            summary = scan_file(pipeline, input, handle, show_progress=progress)
    rate = summary.posts / summary.seconds if summary.seconds else 0.0
    typer.echo(
        f"scanned {summary.posts} posts, {summary.alerts} alerts, {summary.invalid_lines} invalid lines "
        f"skipped, {summary.personal_skipped} personal posts left unanalysed, {rate:.0f} posts/s "
        f"(policy {pipeline.policy_version})",
        err=True,
    )
    if summary.invalid_lines:
        raise typer.Exit(1)


@schema_app.command("post")
def schema_post() -> None:
    """The JSON Schema of a post record (what producers must send)."""
    from policies.post import post_json_schema

    typer.echo(json.dumps(post_json_schema(), indent=2))


@schema_app.command("scan")
def schema_scan() -> None:
    """The JSON Schema of one `veille scan` output line."""
    from monitor.scan import SCAN_OUTPUT_SCHEMA

    typer.echo(json.dumps(SCAN_OUTPUT_SCHEMA, indent=2))


@schema_app.command("backtest")
def schema_backtest() -> None:
    """The JSON Schema of `veille policies backtest --json`."""
    from policies.backtest import BACKTEST_SCHEMA

    typer.echo(json.dumps(BACKTEST_SCHEMA, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
