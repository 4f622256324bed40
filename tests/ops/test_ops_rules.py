"""The Prometheus and Alertmanager files in deploy/: valid for the real tools, and the alerts behave."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REQUIRED_ALERTS = {
    "VeilleWorkerDown", "VeilleConsumerLagGrowing", "VeilleDeadLetterRateHigh", "VeilleSinkFailing",
    "VeilleNoPostsConsumed", "VeilleCriticalAlertOpenTooLong", "VeilleCommitsStalled",
    "VeilleSinkDeliveryStalled",
}


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd)


def _rules(ops: Any) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in sorted(ops.RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def test_promtool_accepts_every_rule_file(ops: Any, promtool: str) -> None:
    files = sorted(str(path) for path in ops.RULES_DIR.glob("*.yml"))
    assert len(files) == 2
    done = _run([promtool, "check", "rules", *files])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_of_the_alerts_pass(ops: Any, promtool: str) -> None:
    tests = sorted(str(path) for path in (ops.DEPLOY / "prometheus" / "tests").glob("*.test.yml"))
    assert tests
    done = _run([promtool, "test", "rules", *tests])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_required_alert_exists_and_has_a_unit_test(ops: Any) -> None:
    alerts = {rule["alert"] for rule in _rules(ops) if "alert" in rule}
    assert alerts >= REQUIRED_ALERTS, f"missing: {REQUIRED_ALERTS - alerts}"
    tested = set()
    for path in (ops.DEPLOY / "prometheus" / "tests").glob("*.test.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    tested.add(check["alertname"])
    assert alerts <= tested, f"alerts never shown firing in a unit test: {alerts - tested}"


def test_rules_name_only_catalogued_series(ops: Any) -> None:
    allowed = ops.allowed_series_names()
    for rule in _rules(ops):
        unknown = ops.metric_names_in(rule["expr"]) - allowed
        name = rule.get("alert") or rule.get("record")
        assert not unknown, f"{name} uses {unknown}, not in docs/metrics.md"


def test_every_alert_has_a_routing_severity_and_a_runbook_section(ops: Any) -> None:
    readme = (ops.DEPLOY / "README.md").read_text()
    routed = {"page", "ticket", "compliance"}
    for rule in _rules(ops):
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in routed, rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f'<a id="{anchor}"></a>' in readme, (
            f"{rule['alert']}: runbook anchor #{anchor} has no section in deploy/README.md"
        )


def test_prometheus_config_is_valid_with_the_shipped_rules(ops: Any, promtool: str, tmp_path: Path) -> None:
    config = yaml.safe_load((ops.DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"veille-worker", "veille-api"} <= jobs, "the recording rules select these job names"
    # The container path of the rules, pointed at the repository for the check.
    config["rule_files"] = [str(ops.RULES_DIR / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = _run([promtool, "check", "config", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", done.stdout))
    assert found == len(_rules(ops)), done.stdout


def test_alertmanager_config_is_valid_and_routes_every_alert_severity(ops: Any) -> None:
    path = ops.DEPLOY / "alertmanager" / "alertmanager.yml"
    done = _run(["/usr/bin/amtool", "check-config", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr
    for severity, receiver in (("page", "ops-pager"), ("compliance", "compliance-team"),
                               ("ticket", "ops-tickets")):
        routed = _run(["/usr/bin/amtool", "config", "routes", "test", f"--config.file={path}",
                       f"severity={severity}", "alertname=VeilleSinkFailing"])
        assert routed.stdout.strip() == receiver, routed.stdout + routed.stderr
