"""`veille ingest` from the command line: outputs, manifest, exit codes and usage errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from monitor.cli import app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("VEILLE_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_an_export_to_a_file_with_its_manifest(
    runner: CliRunner, ingest_kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "posts.jsonl"
    result = runner.invoke(app, ["ingest", "slack", str(ingest_kit.DATA / "slack"), "-o", str(out),
                                 "--directory", str(ingest_kit.DATA / "people.csv")])
    assert result.exit_code == 1, result.output  # two malformed records; the others went through
    assert "read 15, produced 8, skipped 2 system_message, 2 deleted, 1 empty, 2 malformed" in result.output
    assert "trading-desk/2024-03-07.json[0]: not produced: ts missing" in caplog.text
    assert "Zoé" not in caplog.text and "NIR" not in caplog.text  # references only, never content
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    assert manifest["content_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["output"] == str(out) and manifest["acknowledged"] is None
    posts = [json.loads(line) for line in out.read_text().splitlines()]
    assert {post["source"] for post in posts} == {"internal"}


def test_stdout_source_jurisdiction_and_channel_options(
    runner: CliRunner, ingest_kit: Any, tmp_path: Path,
) -> None:
    result = runner.invoke(app, ["ingest", "atom", str(ingest_kit.DATA / "feeds" / "forum.atom"),
                                 "--source", "internal", "--jurisdiction", "de", "--channel", "forum-de"])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 3
    assert {(post["source"], post["jurisdiction"], post["channel"]) for post in lines} == {
        ("internal", "DE", "forum-de")}
    assert result.exit_code == 1  # the entry without an id
    (manifest,) = (tmp_path / "data" / "ingest").glob("atom-*.manifest.json")
    assert json.loads(manifest.read_text())["output"] == "-"


def test_csv_needs_its_mapping(runner: CliRunner, ingest_kit: Any, tmp_path: Path) -> None:
    csv_path = str(ingest_kit.DATA / "csv" / "linkedin-comments.csv")
    result = runner.invoke(app, ["ingest", "csv", csv_path, "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "--map is required for csv" in result.output
    result = runner.invoke(app, ["ingest", "csv", csv_path, "--map", "id=Comment ID,text=Comment",
                                 "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "must name a column for author" in result.output


_BOX = str.maketrans(dict.fromkeys("│╭╮╰╯─", " "))


@pytest.mark.parametrize(("arguments", "message"), [
    (["slack", "https://example.com/export.zip"], "slack reads files"),
    (["rss", "{data}/feeds/reviews.rss", "--follow"], "--follow needs an http(s) URL"),
    (["rss", "{data}/no-such-feed.rss"], "does not exist"),
    (["rss", "{data}/feeds/reviews.rss", "--produce", "-o", "x.jsonl"], "choose --output or --produce"),
    (["rss", "{data}/feeds/reviews.rss", "--jurisdiction", "France"], "ISO 3166-1 alpha-2"),
    (["rss", "{data}/feeds/reviews.rss", "--directory", "{data}/feeds/forum.atom"], "names no identity"),
])
def test_usage_errors_exit_2_and_say_why(
    runner: CliRunner, ingest_kit: Any, arguments: list[str], message: str,
) -> None:
    result = runner.invoke(app, ["ingest", *(arg.format(data=ingest_kit.DATA) for arg in arguments)])
    assert result.exit_code == 2, result.output
    # Rich wraps the error in a box as wide as the terminal: a long path moves the line breaks.
    assert message in " ".join(result.output.translate(_BOX).split())


def test_a_url_source_run_twice_produces_each_item_once(
    runner: CliRunner, site: Any, ingest_kit: Any, tmp_path: Path,
) -> None:
    body = (ingest_kit.DATA / "feeds" / "reviews.rss").read_bytes()
    site.answer = lambda request: ingest_kit.Reply(200, body, {"Content-Type": "application/rss+xml"})
    out, state = tmp_path / "reviews.jsonl", tmp_path / "reviews.state.json"
    command = ["ingest", "rss", site.url("/acme-bank/reviews.rss"), "-o", str(out), "--state", str(state),
               "--employee-domains", "acme-bank.fr"]
    first = runner.invoke(app, command)
    second = runner.invoke(app, command)
    assert first.exit_code == second.exit_code == 1  # the item with an unreadable date, each time
    assert "produced 3" in first.output and "produced 0" in second.output
    assert "3 duplicate" in second.output
    assert len(out.read_text().splitlines()) == 3
    assert json.loads(state.read_text())["seen"] == [
        "rss:review-9001", "rss:https://reviews.example.com/acme-bank/r/9002",
        "rss:https://reviews.example.com/acme-bank/r/9003"]


def test_a_url_that_fails_exits_1_with_the_status(runner: CliRunner, site: Any, ingest_kit: Any) -> None:
    site.answer = lambda request: ingest_kit.Reply(503, b"", {"Retry-After": "120"})
    result = runner.invoke(app, ["ingest", "mastodon", site.url("/api/v1/timelines/public")])
    assert result.exit_code == 1
    assert "HTTP 503" in result.output and "state unchanged" in result.output


def test_a_polled_url_s_credentials_reach_neither_manifest_nor_logs(
    runner: CliRunner, site: Any, ingest_kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.ingest.test_ingest_follow import _rss

    site.answer = lambda request: ingest_kit.Reply(200, _rss([("r-1", "Great bank")]))
    url = site.url("/reviews.rss?access_token=s3cr3t-token").replace("://", "://reader:pa55w0rd@", 1)
    out, manifest = tmp_path / "posts.jsonl", tmp_path / "manifest.json"
    caplog.set_level("DEBUG")
    result = runner.invoke(app, ["ingest", "rss", url, "-o", str(out), "--manifest", str(manifest), "-v"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 1
    recorded = manifest.read_text() + result.output + caplog.text
    assert "/reviews.rss" in manifest.read_text()
    for secret in ("s3cr3t-token", "pa55w0rd", "reader"):
        assert secret not in recorded
