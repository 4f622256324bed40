"""The provisioned Grafana dashboards: every panel's PromQL parses (promtool) and names catalogued series."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DASHBOARDS = ("veille-ops", "veille-compliance", "veille-ereputation")
# Grafana's own variables, replaced by what Grafana would send so that promtool sees plain PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "6h", "$__interval": "30s"}


def _dashboard(ops: Any, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ops.DEPLOY / "grafana" / "dashboards" / f"{name}.json").read_text())
    return data


def _expressions(ops: Any, name: str) -> dict[str, str]:
    """``{"<dashboard> #<panel id> <title> <refId>": expr}`` with Grafana variables substituted."""
    dashboard = _dashboard(ops, name)
    variables = {f"${v['name']}": v.get("allValue", ".*") for v in dashboard["templating"]["list"]}
    exprs: dict[str, str] = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            # Longest first: $__range must not be cut by a user variable named $__r...
            for var, value in sorted({**GRAFANA_VARIABLES, **variables}.items(), key=lambda kv: -len(kv[0])):
                expr = expr.replace(var, value)
            assert "$" not in expr, f"{name} panel {panel['title']!r}: unknown variable in {expr}"
            exprs[f"{name} #{panel['id']} {panel['title']} {target['refId']}"] = expr
    return exprs


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_panel_query_parses_with_promtool(name: str, ops: Any, promtool: str, tmp_path: Path) -> None:
    exprs = _expressions(ops, name)
    assert len(exprs) >= 6
    output = ops.promtool_check_expressions(exprs, tmp_path)
    assert f"SUCCESS: {len(exprs)} rules found" in output


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_panel_names_only_catalogued_series(name: str, ops: Any) -> None:
    allowed = ops.allowed_series_names()
    used: set[str] = set()
    for where, expr in _expressions(ops, name).items():
        names = ops.metric_names_in(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        assert names <= allowed, f"{where} uses {names - allowed}, not in docs/metrics.md"
        used |= names
    for variable in _dashboard(ops, name)["templating"]["list"]:
        metric = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable["definition"])
        assert metric and metric.group(1) in allowed, variable["definition"]
        label = metric.group(2)
        assert label in ops.read_catalogue()[metric.group(1)].labels, variable["definition"]


def test_each_dashboard_covers_its_subject(ops: Any) -> None:
    def series(name: str) -> set[str]:
        found: set[str] = set()
        for expr in _expressions(ops, name).values():
            found |= ops.metric_names_in(expr)
        return found

    ops_series = series("veille-ops")
    for needed in ("veille:posts_consumed:rate1m", "veille_consumer_lag",
                   "veille:batch_processing_seconds:p95_5m", "veille:alert_latency_seconds:p95_5m",
                   "veille:detector_seconds:p95_5m",
                   "veille_batch_retries_total", "veille:sink_failures:rate5m", "veille_sink_backlog",
                   "veille_sink_oldest_undelivered_seconds", "veille_sink_deliveries_total",
                   "veille:records_dead_lettered:rate5m", "up"):
        assert needed in ops_series, f"Ops dashboard lacks {needed}"
    compliance = series("veille-compliance")
    assert {"veille_open_alerts", "veille_alerts_raised_total", "veille:alerts_raised:rate5m",
            "veille_rule_hits_total", "veille_review_rule_precision"} <= compliance
    assert {"veille_brand_sentiment", "veille_brand_volume", "veille_spike_alerts_total"} <= series(
        "veille-ereputation")


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_json_is_provisionable(name: str, ops: Any) -> None:
    dashboard = _dashboard(ops, name)
    assert dashboard["uid"] == name and dashboard["title"].startswith("Veille / ")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    datasources = yaml.safe_load(
        (ops.DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"]), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"{panel['title']} overflows the grid"
    provider = yaml.safe_load(
        (ops.DEPLOY / "grafana" / "provisioning" / "dashboards" / "veille.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
