"""Helpers for the operations tests: the metrics catalogue, PromQL checks with promtool, processes."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CATALOGUE = ROOT / "docs" / "metrics.md"
RULES_DIR = DEPLOY / "prometheus" / "rules"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    type: str
    labels: frozenset[str]

    def series_names(self) -> set[str]:
        """Names a query may use for this metric."""
        if self.type == "histogram":
            return {f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"}
        return {self.name}


_ROW = re.compile(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram)\s*\|[^|]*\|([^|]*)\|")


def read_catalogue(path: Path = CATALOGUE) -> dict[str, CatalogueEntry]:
    entries: dict[str, CatalogueEntry] = {}
    for line in path.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, kind, labels = match.groups()
            entries[name] = CatalogueEntry(name, kind, frozenset(re.findall(r"`([a-z_]+)`", labels)))
    return entries


def recording_rule_names() -> set[str]:
    names: set[str] = set()
    for path in RULES_DIR.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


def allowed_series_names() -> set[str]:
    names = recording_rule_names()
    for entry in read_catalogue().values():
        names |= entry.series_names()
    return names


# PromQL words that look like metric names to a naive tokenizer.
_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan", "le", "job", "instance",
}


def metric_names_in(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers not followed by '(' and outside label matchers."""
    stripped = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
    stripped = re.sub(r'"[^"]*"', '""', stripped)
    stripped = re.sub(r"\[[^\]]*\]", "[]", stripped)  # range durations
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", stripped):
        word = match.group(1)
        if word.lower() not in _PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", word):
            names.add(word)
    return names


def promtool_check_expressions(exprs: dict[str, str], tmp_path: Path) -> str:
    """Run `promtool check rules` on throwaway recording rules, one per expression; return its output."""
    rules = [{"record": f"check:{index}", "expr": expr} for index, expr in enumerate(exprs.values())]
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}))
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60)
    where = {f"check:{index}": name for index, name in enumerate(exprs)}
    assert done.returncode == 0, f"promtool refused an expression ({where}):\n{done.stdout}{done.stderr}"
    return done.stdout


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class Ops:
    """The helpers above, handed out by the ``ops`` fixture (test dirs are not packages)."""

    ROOT = ROOT
    DEPLOY = DEPLOY
    RULES_DIR = RULES_DIR
    PROMETHEUS = PROMETHEUS
    PROMTOOL = PROMTOOL
    CatalogueEntry = CatalogueEntry
    read_catalogue = staticmethod(read_catalogue)
    recording_rule_names = staticmethod(recording_rule_names)
    allowed_series_names = staticmethod(allowed_series_names)
    metric_names_in = staticmethod(metric_names_in)
    promtool_check_expressions = staticmethod(promtool_check_expressions)
    wait_until = staticmethod(wait_until)


@pytest.fixture(scope="session")
def ops() -> type[Ops]:
    return Ops


@pytest.fixture(scope="session")
def promtool() -> str:
    if not Path(PROMTOOL).exists():
        pytest.fail(f"{PROMTOOL} is missing: apt-get install -y prometheus")
    return PROMTOOL
