"""`veille gdpr subject`: access and erasure through the CLI on a real SQLite store, with a real case
under legal hold and the packs' regulatory retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, Evidence, Severity, alert_id
from alerts.privacy import author_pseudonym
from alerts.store import SqlAlertStore
from monitor.cli import app

SUBJECT = "u-subject"
NOW = datetime.now(UTC)


def _alert(post_id: str, jurisdiction: str, author: str = SUBJECT, **extra: object) -> Alert:
    return Alert(
        id=alert_id(post_id, "r"), rule_id="r", rule_title="r", severity=Severity.HIGH,
        jurisdiction=jurisdiction,
        source="internal", channel="teams", post_id=post_id, author_id=author, author_role="employee",
        post_created_at=NOW - timedelta(days=10), policy_version="v",
        evidence=[Evidence(detector="pii", type="EMAIL_ADDRESS", start=0, end=5, score=1.0, snippet="[EMAIL]",
                           span="a@b.c", personal=True)],
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Alert]:
    url = f"sqlite:///{tmp_path / 'veille.db'}"
    monkeypatch.setenv("VEILLE_DATABASE_URL", url)
    monkeypatch.setenv("VEILLE_PSEUDONYM_KEY", "k")
    alerts = {"fr": _alert("p1", "FR"), "held": _alert("p2", "DE"), "pr": _alert("p3", "PR"),
              "rep": _alert("p4", "FR", author_pseudonym(b"k", SUBJECT), purpose="reputation"),
              "other": _alert("p5", "FR", "someone-else")}
    store = SqlAlertStore.open(url)
    store.add_many(list(alerts.values()))
    store.close()
    return alerts


def test_access_lists_the_persons_alerts_without_raw_spans(seeded: dict[str, Alert]) -> None:
    result = CliRunner().invoke(app, ["gdpr", "subject", SUBJECT, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    mine = sorted(seeded[k].id for k in ("fr", "held", "pr", "rep"))
    assert sorted(a["id"] for a in body["alerts"]) == mine
    assert all("span" not in e for a in body["alerts"] for e in a["evidence"])
    assert {a["kind"] for a in body["alerts"]} == {"alert"}
    text = CliRunner().invoke(app, ["gdpr", "subject", SUBJECT])
    assert text.output.startswith(f"4 alerts or samples, 0 comments, 0 audit entries about {SUBJECT}")


def test_erasure_honours_a_legal_hold_and_regulatory_retention(
    seeded: dict[str, Alert], tmp_path: Path
) -> None:
    held = seeded["held"].id
    store = SqlAlertStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
    case = store.create_case("Litigation Dupont v. Acme", "counsel.legal", CLI_ACTOR)
    store.add_case_items(case.id, [held], CLI_ACTOR)
    store.hold_case(case.id, "litigation hold letter of 2026-11-30", CLI_ACTOR)
    store.close()
    result = CliRunner().invoke(app, ["gdpr", "subject", SUBJECT, "--erase", "--reason",
                                      "DSAR 2026-117 by e-mail", "--by", "dpo.martin", "--json"])
    assert result.exit_code == 0, result.output
    decisions = {d["alert_id"]: d for d in json.loads(result.output)["erasure"]}
    assert decisions[held]["erased"] is False and "legal hold" in decisions[held]["reason"]
    # PR is covered by the US pack: SEC 17a-4 keeps it 3 years.
    assert decisions[seeded["pr"].id]["erased"] is False
    assert "SEC Rule 17a-4" in decisions[seeded["pr"].id]["reason"]
    assert decisions[seeded["fr"].id]["erased"] and decisions[seeded["rep"].id]["erased"]
    after = json.loads(CliRunner().invoke(app, ["gdpr", "subject", SUBJECT, "--json"]).output)
    assert sorted(a["id"] for a in after["alerts"]) == sorted([held, seeded["pr"].id])
    actions = [e["action"] for e in after["audit"]]
    assert actions == ["subject.erase_refused", "subject.erase_refused"]


@pytest.mark.parametrize(("args", "message"), [
    (["--erase"], "--erase needs --reason"),
    (["--erase", "--reason", "DSAR 2026-117"], "--erase needs --reason"),
    (["--erase", "--reason", "short", "--by", "dpo"], "at least 10 characters"),
])
def test_erasure_refuses_incomplete_requests(seeded: dict[str, Alert], args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["gdpr", "subject", SUBJECT, *args])
    assert result.exit_code == 2 and message in result.output
