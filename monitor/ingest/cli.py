"""The ``veille ingest`` command (mounted by ``monitor.cli``)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from policies.post import JURISDICTION_PATTERN, Source

if TYPE_CHECKING:
    from monitor.ingest.follow import Deliver, Poller
    from monitor.ingest.manifest import Manifest
    from monitor.settings import Settings

log = logging.getLogger(__name__)


class IngestFormat(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    X = "x"
    MASTODON = "mastodon"
    RSS = "rss"
    ATOM = "atom"
    CSV = "csv"


def ingest(
    source_format: Annotated[IngestFormat, typer.Argument(
        metavar="FORMAT", help="slack, teams, x, mastodon, rss, atom or csv: the input's platform format.")],
    path_or_url: Annotated[str, typer.Argument(
        metavar="PATH_OR_URL",
        help="Export file or folder (slack: ZIP or folder). mastodon, rss and atom also read an "
             "http(s) URL: a timeline or hashtag URL, or a feed.")],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="JSONL file of posts, '-' for stdout (the default without --produce). "
                               "A URL source appends to it.")] = None,
    produce: Annotated[bool, typer.Option(
        "--produce", help="Send the posts to the input topics and wait for the broker's "
                          "acknowledgement (VEILLE_BOOTSTRAP_SERVERS).")] = False,
    source: Annotated[Source | None, typer.Option(
        help="internal or external (default: internal for slack and teams, external for the others).")
    ] = None,
    jurisdiction: Annotated[str | None, typer.Option(
        help="Jurisdiction of every post (FR, US, EU, GLOBAL); else the author's country decides.")] = None,
    channel: Annotated[str | None, typer.Option(
        help="The posts' channel, as in VEILLE_CHANNEL_JURISDICTIONS (default: the format name).")] = None,
    directory: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, readable=True,
        help="People CSV: id, handle or email columns, and employee, role, country.")] = None,
    employee_domains: Annotated[str, typer.Option(
        help="Comma-separated e-mail domains whose authors are employees (when the directory does "
             "not list them).")] = "",
    column_map: Annotated[str | None, typer.Option(
        "--map", help="csv: FIELD=COLUMN pairs, comma-separated; id, text and author are required "
                      "(also created_at, author_name, handle, email, lang, url, thread_id, reply_to).")
    ] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Keep polling the URL every --interval seconds until stopped (SIGTERM); "
                         "counters on VEILLE_METRICS_PORT when set.")] = False,
    interval: Annotated[float, typer.Option(min=1.0, help="Seconds between polls with --follow.")] = 60.0,
    state: Annotated[Path | None, typer.Option(
        help="State of a URL source, kept between runs (default: under VEILLE_DATA_DIR/ingest).")
    ] = None,
    manifest: Annotated[Path | None, typer.Option(
        help="Reconciliation manifest (default: OUTPUT.manifest.json, else under "
             "VEILLE_DATA_DIR/ingest).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Read a platform's export or live source (Slack, Teams, X, Mastodon, RSS, Atom, CSV) into posts.

    Writes JSONL or sends to the input topics, and writes a manifest of what was read, produced and
    skipped. Exit 1 when records were malformed (the others still went through).
    """
    from kafka.errors import KafkaError

    from monitor.ingest.base import Context, redact_url
    from monitor.ingest.manifest import Manifest, Reconciler
    from monitor.ingest.people import Directory, DirectoryError
    from monitor.ingest.run import FORMATS, JsonlOutput, KafkaOutput, ingest_path
    from monitor.ingest.tabular import MappingError, parse_mapping
    from monitor.process import configure_logging
    from monitor.produce import ProduceError
    from monitor.settings import Settings

    configure_logging(verbose)
    spec = FORMATS[source_format.value]
    is_url = path_or_url.startswith(("http://", "https://"))
    if is_url and spec.poller is None:
        raise typer.BadParameter(f"{source_format.value} reads files; only mastodon, rss and atom "
                                 "poll URLs", param_hint="PATH_OR_URL")
    if follow and not is_url:
        raise typer.BadParameter("--follow needs an http(s) URL", param_hint="PATH_OR_URL")
    if not is_url and not Path(path_or_url).exists():
        raise typer.BadParameter(f"{path_or_url} does not exist", param_hint="PATH_OR_URL")
    if produce and output is not None:
        raise typer.BadParameter("choose --output or --produce, not both", param_hint="--output")
    if jurisdiction is not None and not re.fullmatch(JURISDICTION_PATTERN, jurisdiction.upper()):
        raise typer.BadParameter("an ISO 3166-1 alpha-2 code (FR), a region (EU) or GLOBAL",
                                 param_hint="--jurisdiction")
    if (column_map is None) != (source_format is not IngestFormat.CSV):
        raise typer.BadParameter("--map is required for csv and only for csv", param_hint="--map")
    reader = spec.reader
    try:
        if column_map is not None:
            reader = partial(spec.reader, mapping=parse_mapping(column_map))
        people = Directory.load(directory, employee_domains.split(","))
    except (MappingError, DirectoryError) as exc:
        raise typer.BadParameter(str(exc)) from None

    settings = Settings()
    context = Context(source or spec.default_source, channel or source_format.value,
                      jurisdiction.upper() if jurisdiction else None, people)
    started = datetime.now(UTC)
    manifest_path = manifest or (Path(f"{output}.manifest.json") if output not in (None, "-") else
                                 settings.data_dir / "ingest" /
                                 f"{source_format.value}-{started:%Y%m%dT%H%M%SZ}.manifest.json")
    with contextlib.ExitStack() as stack:
        deliver: Deliver
        if produce:
            kafka = KafkaOutput(settings)
            deliver, output_name = kafka, "kafka:" + ",".join(kafka.topics)
        else:
            deliver = JsonlOutput(_open_output(output, append=is_url, stack=stack))
            output_name = output or "-"
        # A polled URL may carry an access token in its query or user part: the manifest and the logs
        # keep where it was read from, not how to authenticate there.
        shown_input = redact_url(path_or_url) if is_url else path_or_url
        record = Manifest(format=source_format.value, input=shown_input, output=output_name,
                          started_at=started)
        if is_url:
            assert spec.poller is not None
            result = _poll(spec.poller(path_or_url, context), deliver, record, manifest_path, settings,
                           state or _default_state(settings.data_dir, source_format.value, path_or_url),
                           follow, interval)
        else:
            try:
                result = ingest_path(reader, Path(path_or_url), context, Reconciler(record), deliver)
            except (KafkaError, ProduceError, OSError) as exc:
                # Which records the broker took before the failure is unknown: none is claimed.
                record.acknowledged = 0 if produce else None
                record.write(manifest_path)
                typer.echo(f"ingest failed ({type(exc).__name__}: {exc}); manifest {manifest_path}. "
                           "Running it again is safe: post ids are stable.", err=True)
                raise typer.Exit(1) from None
    result.write(manifest_path)
    _summarise(result, manifest_path)
    if result.skipped["malformed"]:
        raise typer.Exit(1)


def _open_output(output: str | None, *, append: bool, stack: contextlib.ExitStack) -> BinaryIO:
    if output in (None, "-"):
        return sys.stdout.buffer
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(path.open("ab" if append else "wb"))


def _default_state(data_dir: Path, format: str, url: str) -> Path:
    return data_dir / "ingest" / f"{format}-{hashlib.sha256(url.encode()).hexdigest()[:16]}.state.json"


def _poll(poller: Poller, deliver: Deliver, record: Manifest, manifest_path: Path, settings: Settings,
          state_path: Path, follow: bool, interval: float) -> Manifest:
    """One poll of a URL source, or with --follow, polls until SIGTERM or SIGINT."""
    import httpx

    from monitor.ingest.follow import FetchError, Follower
    from monitor.metrics import default_metrics
    from monitor.process import install_stop_handlers

    metrics = None
    if follow and settings.metrics_port:
        from prometheus_client import start_http_server

        metrics = default_metrics()
        start_http_server(settings.metrics_port, addr=settings.api_host)
    with httpx.Client(timeout=30.0, follow_redirects=True,
                      headers={"User-Agent": "veille-ingest"}) as client:
        follower = Follower(poller, deliver, manifest=record, state_path=state_path,
                            manifest_path=manifest_path, interval_s=interval, client=client, metrics=metrics)
        if not follow:
            try:
                follower.poll_once()
            except FetchError as exc:
                typer.echo(f"poll failed: {exc}; nothing produced, state unchanged", err=True)
                raise typer.Exit(1) from None
            return follower.reconciler.finish()
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            install_stop_handlers(stop)
        log.info("following %s every %.0f s (state %s)", record.input, interval, state_path)
        return follower.run(stop)


def _summarise(result: Manifest, manifest_path: Path) -> None:
    skipped = ", ".join(f"{count} {reason}" for reason, count in result.skipped.items() if count)
    acknowledged = (f", {result.acknowledged} acknowledged by the broker"
                    if result.acknowledged is not None else "")
    typer.echo(f"read {result.read}, produced {result.produced}{acknowledged}, skipped "
               f"{skipped or 'none'}; manifest {manifest_path}", err=True)
