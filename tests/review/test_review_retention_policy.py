"""Retention per regime: each pack states its period and the rule behind it, an organisation
overrides it (overlay, or VEILLE_RETENTION_DAYS which wins), and `retention apply` uses exactly the
policy `retention policy` shows.

Periods checked against their sources: SEC Rule 17a-4(b)(4), 3 years (1095 days); FCA SYSC 10A, 5
years (1825 days); GDPR art. 5(1)(e) for the EU, where no regulation requires keeping.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.model import AlertStatus, Verdict
from alerts.retention import ANONYMISED, RetentionError, resolve
from alerts.store import SqlAlertStore
from monitor.cli import app as veille
from policies.loader import load_policy_set
from tests.review.conftest import make_alert


def _policy(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(veille, ["retention", "policy", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return {row["jurisdiction"]: row for row in json.loads(result.stdout)}


def test_the_packs_state_each_regimes_period_and_its_source(tmp_path: Path) -> None:
    rows = _policy({"VEILLE_DATA_DIR": str(tmp_path)})
    assert rows["US"]["days"] == 3 * 365 and "17a-4(b)(4)" in rows["US"]["source"]
    assert rows["GB"]["days"] == 5 * 365 and "SYSC 10A" in rows["GB"]["source"]
    assert rows["EU"]["days"] == 365 and "GDPR art. 5(1)(e)" in rows["EU"]["source"]
    # FR inherits eu's period, and says where it comes from.
    assert rows["FR"]["days"] == 365 and rows["FR"]["origin"].startswith("policies/packs/eu.yaml:")
    assert rows["GLOBAL"]["days"] == 730
    assert all(row["overridden_by"] is None and row["mode"] == "anonymise" for row in rows.values())
    assert "DE" in rows["EU"]["covers"] and "FR" not in rows["EU"]["covers"]
    table = CliRunner().invoke(veille, ["retention", "policy"], env={"VEILLE_DATA_DIR": str(tmp_path)})
    assert table.exit_code == 0 and "jurisdiction" in table.output.splitlines()[0]
    assert any(line.startswith("US") and " 1095 " in line for line in table.output.splitlines())


def test_an_overlay_and_the_setting_override_the_pack_and_say_so(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "acme-uk.yaml").write_text(
        "pack: {id: acme-uk, overlay: uk}\n"
        "retention:\n"
        "  days: 2555\n"
        "  source: FCA request of 2026-03-02 under SYSC 10A.1.11, 7 years\n"
    )
    env = {"VEILLE_DATA_DIR": str(tmp_path), "VEILLE_POLICIES_DIR": str(policies)}
    rows = _policy(env)
    assert rows["GB"]["days"] == 2555 and rows["GB"]["source"].startswith("FCA request of 2026-03-02")
    assert rows["GB"]["overridden_by"].endswith("acme-uk.yaml:2")
    assert rows["US"]["overridden_by"] is None
    # Lengthening a regulatory period keeps it a regulatory minimum: erasure stays refused within it.
    assert rows["GB"]["required_days"] == 2555 and rows["GB"]["conflict"] is None

    rows = _policy({**env, "VEILLE_RETENTION_DAYS": '{"GB": 3650, "DE": 90, "*": 400}',
                    "VEILLE_RETENTION_MODE": "delete"})
    assert rows["GB"]["days"] == 3650
    assert rows["GB"]["overridden_by"] == "VEILLE_RETENTION_DAYS (pack: 2555 days)"
    assert rows["DE"] == {
        "jurisdiction": "DE", "days": 90, "mode": "delete", "source": "VEILLE_RETENTION_DAYS",
        "origin": None, "overridden_by": "VEILLE_RETENTION_DAYS", "covers": [],
        "required_days": None, "conflict": None,
    }
    assert rows["GLOBAL"]["days"] == 400 and rows["EU"]["days"] == 365
    assert "DE" not in rows["EU"]["covers"] and "IT" in rows["EU"]["covers"]


@pytest.mark.parametrize(
    ("retention", "line", "message"),
    [
        ("  days: -30\n  source: SYSC 10A\n", 3, "a whole number of days from 0 to 36500"),
        ("  days: 1825\n", 2, "source"),
        ("  days: 1825\n  source: '  '\n", 4, "name the regulation or decision"),
        ("  days: 1825\n  source: SYSC 10A\n  mode: purge\n", 5, "mode"),
    ],
)
def test_a_bad_retention_in_a_pack_is_refused_with_file_line_and_fix(
    tmp_path: Path, retention: str, line: int, message: str
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "acme-uk.yaml").write_text("pack: {id: acme-uk, overlay: uk}\nretention:\n" + retention)
    env = {"VEILLE_DATA_DIR": str(tmp_path), "VEILLE_POLICIES_DIR": str(policies)}
    for command in (["retention", "policy"], ["retention", "apply", "--dry-run"]):
        result = CliRunner().invoke(veille, command, env=env)
        assert result.exit_code == 2, result.output
        assert f"acme-uk.yaml:{line}" in result.output and message in result.output, result.output


def test_retention_apply_uses_each_regimes_period(store_url: str) -> None:
    policy, _ = resolve(load_policy_set(), None, "anonymise")
    now = datetime.now(UTC)
    # Closed "now"; applied as of 400, 800, 1200 and 2000 days later.
    alerts = {
        j: make_alert(i, f"rule.{j.lower()}", personal=True).model_copy(update={"jurisdiction": j})
        for i, j in enumerate(["DE", "US", "GB", "ZZ"])
    }
    store = SqlAlertStore.open(store_url)
    try:
        store.add_many(list(alerts.values()))
        for alert in alerts.values():
            store.transition(alert.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)
        due = {days: store.apply_retention(policy, CLI_ACTOR, now=now + timedelta(days=days), dry_run=True)
               for days in (364, 400, 800, 1200, 2000)}
        assert due[364].total == 0
        assert due[400].by_jurisdiction == {"DE": 1}  # EU member: 365 days
        assert due[800].by_jurisdiction == {"DE": 1, "ZZ": 1}  # no pack: GLOBAL's 730
        assert due[1200].by_jurisdiction == {"DE": 1, "ZZ": 1, "US": 1}  # 1095
        assert due[2000].by_jurisdiction == {"DE": 1, "ZZ": 1, "US": 1, "GB": 1}  # 1825
        store.apply_retention(policy, CLI_ACTOR, now=now + timedelta(days=800))
        de, us = store.get(alerts["DE"].id), store.get(alerts["US"].id)
        assert de is not None and de.author_id == ANONYMISED
        assert us is not None and us.author_id == alerts["US"].author_id
    finally:
        store.close()


def test_a_bad_override_names_the_setting() -> None:
    with pytest.raises(RetentionError, match="'US' is -1 days: use 0 to 36500 \\(VEILLE_RETENTION_DAYS\\)"):
        resolve(load_policy_set(), {"US": -1}, "anonymise")


def test_the_resolved_policy_covers_each_code_once_with_the_most_specific_period() -> None:
    policy, _ = resolve(load_policy_set(), {"DE": 90, "GB": 2555}, "delete")
    days = policy.days
    assert days["DE"] == 90 and days["IT"] == 365  # an override for one EU member only
    assert days["FR"] == 365 and days["GP"] == 365  # fr's own pack (inherited period), its territories
    assert days["GB"] == 2555 and days["UK"] == 2555 and days["JE"] == 2555  # a pack's override covers
    assert days["US"] == 1095 and days["PR"] == 1095
    assert days["*"] == 730 and days["GLOBAL"] == 730
    assert policy.mode == "delete"
