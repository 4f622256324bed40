"""Samples in the review queue over HTTP: filtered by kind, opened without being reviewed, and the
supervision report a principal signs (officer and admin)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from alerts.model import Alert, AlertKind, Severity, alert_id
from alerts.sampling import SAMPLE_RULE_ID
from alerts.tokens import Role
from monitor.cli import app as veille
from tests.review.conftest import BASE_TIME, SEED, LiveFactory

FROM, TO = BASE_TIME.isoformat(), (BASE_TIME + timedelta(days=1)).isoformat()


def _sample() -> Alert:
    post_id = "teams-sampled-1"
    return SEED[2].model_copy(update={
        "id": alert_id(post_id, SAMPLE_RULE_ID), "kind": AlertKind.SAMPLE, "population": "reps",
        "rule_id": SAMPLE_RULE_ID, "rule_title": "Random sample", "severity": Severity.INFO,
        "post_id": post_id, "created_at": BASE_TIME + timedelta(minutes=30),
    })


def _report(client: Any, **params: Any) -> Any:
    response = client.get("/api/v1/supervision/report", params={"from": FROM, "to": TO, **params})
    assert response.status_code == 200, response.text
    return response


def test_an_opened_but_unactioned_sample_stays_pending(live: LiveFactory, database_url: str) -> None:
    sample = _sample()
    app = live(database_url, alerts=[*SEED, sample])
    officer = app.client(Role.OFFICER)

    listed = officer.get("/api/v1/alerts", params={"kind": "sample"}).json()
    assert [a["id"] for a in listed["data"]] == [sample.id] and listed["count"] == 1
    assert listed["data"][0]["kind"] == "sample" and listed["data"][0]["population"] == "reps"
    alerts_only = officer.get("/api/v1/alerts", params={"kind": "alert"}).json()
    assert sample.id not in {a["id"] for a in alerts_only["data"]} and alerts_only["count"] == len(SEED)

    for _ in range(3):
        opened = officer.get(f"/api/v1/alerts/{sample.id}")
        assert opened.status_code == 200 and opened.json()["status"] == "open"
    app.store.flush_audit(final=True)
    actions = [e.action for e in app.store.audit_entries(target=f"alert:{sample.id}", limit=None)]
    assert actions and set(actions) == {"alert.view"}  # the views are on record, nothing else

    reps = {f["population"]: f for f in _report(officer).json()["populations"]}["reps"]
    assert (reps["sampled"], reps["reviewed"], reps["pending"], reps["samples_pending"]) == (1, 0, 1, 1)

    acted = officer.post(f"/api/v1/alerts/{sample.id}/transition", json={"to": "acknowledged"})
    assert acted.status_code == 200, acted.text
    reps = {f["population"]: f for f in _report(officer).json()["populations"]}["reps"]
    assert (reps["reviewed"], reps["pending"], reps["by_reviewer"]) == (1, 0, {"officer-1": 1})
    assert reps["median_seconds_to_review"] > 0


def test_report_formats_and_refusals(live: LiveFactory, sqlite_url: str) -> None:
    app = live(sqlite_url, alerts=[*SEED, _sample()])
    admin = app.client(Role.ADMIN)
    csv_answer = _report(admin, format="csv", population="reps")
    assert csv_answer.headers["content-type"].startswith("text/csv")
    header, row, _total = csv_answer.text.splitlines()
    assert header.split(",")[3:8] == ["population", "sampled", "alerts", "reviewed", "pending"]
    assert row.split(",")[3:8] == ["reps", "1", "0", "0", "1"]

    empty = admin.get("/api/v1/supervision/report", params={"from": TO, "to": FROM})
    assert empty.status_code == 400 and "must be earlier than to" in empty.json()["detail"]
    assert admin.get("/api/v1/supervision/report", params={"to": TO}).status_code == 422
    naive = admin.get("/api/v1/supervision/report", params={"from": "2025-06-01T09:00:00", "to": TO})
    assert naive.status_code == 422
    assert admin.get("/api/v1/supervision/report",
                     params={"from": FROM, "to": TO, "format": "xlsx"}).status_code == 422
    assert admin.get("/api/v1/alerts", params={"kind": "draw"}).status_code == 422
    for role in (Role.COMMS, Role.OPS):
        assert app.client(role).get("/api/v1/supervision/report",
                                    params={"from": FROM, "to": TO}).status_code == 403


@pytest.mark.parametrize("role", [Role.OFFICER, Role.ADMIN])
def test_officer_and_admin_read_the_report(live: LiveFactory, sqlite_url: str, role: Role) -> None:
    app = live(sqlite_url)
    body = _report(app.client(role)).json()
    assert body["total"]["alerts"] == len(SEED) and body["total"]["sampled"] == 0


def _veille(url: str, *args: str) -> Any:
    return CliRunner().invoke(veille, list(args), env={"VEILLE_DATABASE_URL": url})


def test_the_cli_report_matches_the_api_in_every_format(live: LiveFactory, sqlite_url: str) -> None:
    sample = _sample()
    app = live(sqlite_url, alerts=[*SEED, sample])
    officer = app.client(Role.OFFICER)
    assert officer.post(f"/api/v1/alerts/{SEED[2].id}/comments", json={"body": "seen"}).status_code == 201
    as_of = (BASE_TIME + timedelta(days=3650)).isoformat()  # a fixed instant: both answers are comparable
    period = ("--from", FROM, "--to", TO, "--as-of", as_of)

    from_api = _report(officer, as_of=as_of).json()
    as_json = _veille(sqlite_url, "supervision", "report", *period, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == from_api

    as_csv = _veille(sqlite_url, "supervision", "report", *period, "--format", "csv")
    assert as_csv.output == _report(officer, as_of=as_of, format="csv").text

    table = _veille(sqlite_url, "supervision", "report", *period)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert any(line.split()[:5] == ["reps", "1", "0", "0", "1"] for line in lines), table.output
    assert any(line.startswith("(none)") and "officer-1 1" in line for line in lines), table.output
    assert lines[-1].split()[:5] == ["total", "1", str(len(SEED)), "1", str(len(SEED))]

    by_day = _veille(sqlite_url, "supervision", "report", "--from", "2025-06-01", "--to", "2025-06-02",
                     "--format", "json", "--as-of", as_of)
    assert json.loads(by_day.output)["total"]["sampled"] == 1

    bad = _veille(sqlite_url, "supervision", "report", "--from", "June 1st", "--to", TO)
    assert bad.exit_code == 2 and "--from 'June 1st' is not a date or an instant" in bad.output
    empty = _veille(sqlite_url, "supervision", "report", "--from", TO, "--to", FROM)
    assert empty.exit_code == 2 and "the period is empty" in empty.output
