"""`veille policies backtest`: the active packs and a draft over the same posts, through the real
detectors; counts agree with the run loop's pipeline, and reviewers' verdicts from a real store
(SQLite and PostgreSQL) give each rule's expected precision."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema_rs
import pytest
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.model import AlertStatus, Verdict
from alerts.store import SqlAlertStore
from monitor.cli import app
from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from monitor.traffic import generate_posts
from policies.backtest import BACKTEST_SCHEMA
from policies.post import Author, Post, Source

PHRASE = "coffee machine"
DRAFT = """
pack: {id: acme, overlay: global}
lists:
  kitchen_words: [coffee machine, machine à café]
rules:
  - id: acme-kitchen-talk
    title: Kitchen talk
    description: d
    severity: low
    references: [internal]
    when:
      lexicon: kitchen_words
    tests:
      match: ["The coffee machine is fixed"]
      no_match: ["The printer is fixed"]
disable:
  - {id: global-payment-data-in-post, reason: handled by the PCI scanner}
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    sample = list(generate_posts(400, 11))
    extra = [
        Post(
            id=f"extra-{i}",
            source=Source.INTERNAL,
            channel="teams",
            author=Author(id=f"a{i}"),
            text=text,
            lang="en",
        )
        for i, text in enumerate(["The coffee machine on 2 is broken", "New coffee machine, finally"])
    ]
    return sample + extra


@pytest.fixture
def export(tmp_path: Path, posts: list[Post]) -> Path:
    path = tmp_path / "posts.jsonl"
    lines = [post.model_dump_json() for post in posts]
    lines.insert(3, '{"not": "a post"}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    directory = tmp_path / "draft"
    directory.mkdir()
    (directory / "acme.yaml").write_text(DRAFT.lstrip(), encoding="utf-8")
    return directory


def _run(*args: str) -> dict:
    result = runner.invoke(app, ["policies", "backtest", *args, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema_rs.validate(BACKTEST_SCHEMA, document)
    return document


def test_rules_gained_and_lost_with_capped_post_ids(draft, export, posts):
    report = _run(str(draft), "--input", str(export), "--show", "1")
    assert report["posts"] == len(posts) and report["skipped_records"] == 1
    rules = {rule["rule_id"]: rule for rule in report["rules"]}
    kitchen = rules["acme-kitchen-talk"]
    talking = [p.id for p in posts if PHRASE in p.text.lower() or "machine à café" in p.text.lower()]
    assert talking and kitchen["active_alerts"] == 0 and kitchen["draft_alerts"] == len(talking)
    assert kitchen["gained"] == len(talking) and kitchen["gained_post_ids"] == talking[:1]
    payment = rules["global-payment-data-in-post"]
    assert payment["active_alerts"] > 0 and payment["draft_alerts"] == 0
    assert payment["lost"] == payment["active_alerts"] and len(payment["lost_post_ids"]) == 1
    unchanged = rules["global-confidential-marker-external"]
    assert unchanged["active_alerts"] == unchanged["draft_alerts"] and unchanged["gained"] == 0
    # Biggest change first.
    changes = [abs(r["draft_alerts"] - r["active_alerts"]) for r in report["rules"]]
    assert changes == sorted(changes, reverse=True)


def test_the_active_side_counts_exactly_what_the_run_loop_alerts(draft, export, posts):
    report = _run(str(draft), "--input", str(export))
    pipeline = build_pipeline(Settings())
    alerted = Counter(alert.rule_id for result in pipeline.process(posts) for alert in result.alerts)
    counted = {r["rule_id"]: r["active_alerts"] for r in report["rules"] if r["active_alerts"]}
    assert alerted and counted == alerted


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, postgres_server_url):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'veille.db'}"
    return request.getfixturevalue("postgres_url")


def test_expected_precision_from_reviewers_verdicts(draft, export, posts, store_url):
    pipeline = build_pipeline(Settings())
    alerts = [alert for result in pipeline.process(posts) for alert in result.alerts]
    payment = [a for a in alerts if a.rule_id == "global-payment-data-in-post"]
    assert len(payment) >= 3
    store = SqlAlertStore.open(store_url)
    try:
        store.add_many(alerts)
        verdicts = [Verdict.TRUE_POSITIVE, Verdict.TRUE_POSITIVE, Verdict.FALSE_POSITIVE]
        for alert, verdict in zip(payment, verdicts, strict=False):
            store.transition(alert.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=verdict)
    finally:
        store.close()
    report = _run(str(draft), "--input", str(export), "--database-url", store_url)
    rules = {rule["rule_id"]: rule for rule in report["rules"]}
    assert rules["global-payment-data-in-post"]["reviewed"] == 3
    assert rules["global-payment-data-in-post"]["expected_precision"] == round(2 / 3, 4)
    assert rules["global-payment-data-in-post"]["verdicts"]["false_positive"] == 1
    assert rules["acme-kitchen-talk"]["expected_precision"] is None


def test_text_report_and_bad_arguments(draft, export):
    result = runner.invoke(app, ["policies", "backtest", str(draft), "--input", str(export), "--show", "2"])
    assert result.exit_code == 0, result.output
    assert "acme-kitchen-talk gains alerts on: " in result.output
    assert "global-payment-data-in-post loses alerts on: " in result.output
    assert "1 record(s) skipped as invalid" in result.output
    result = runner.invoke(app, ["policies", "backtest", str(draft)])
    assert result.exit_code == 2 and "--input FILE or --topic NAME" in result.output
    result = runner.invoke(
        app, ["policies", "backtest", str(draft), "--input", str(export), "--from-offset", "3"]
    )
    assert result.exit_code == 2 and "--topic" in result.output
    broken = draft / "broken.yaml"
    broken.write_text("pack: {id: broken, overlay: global}\nrules: [{id: x}]\n", encoding="utf-8")
    result = runner.invoke(app, ["policies", "backtest", str(draft), "--input", str(export)])
    assert result.exit_code == 1 and "broken.yaml" in result.output


def test_schema_command_prints_the_contract():
    result = runner.invoke(app, ["schema", "backtest"])
    assert result.exit_code == 0 and json.loads(result.stdout) == BACKTEST_SCHEMA
