"""A rule's audience is a checked pack field that travels to its alerts; its id plays no part."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from policies import PolicyError, load_policy_set
from policies.post import Author, Post, Source

RULE = """
pack: {{id: acme, overlay: global}}
rules:
  - id: acme-brand-watch
    title: t
    description: d
    severity: low
    references: [x]
    when: {{lexicon: brand_names}}
{audience}
    tests:
      match: ["exampleco again"]
      no_match: ["nothing"]
"""


def _errors(org_dir: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy_set(org_dir)
    return [str(error) for error in caught.value.errors]


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        (
            "    audience: [communications]",
            "9: rule acme-brand-watch: audience: compliance reviews every alert: write "
            "'audience: [compliance, communications]' to share a rule's alerts with communications",
        ),
        (
            "    audience: [compliance, press]",
            "9: rule acme-brand-watch: invalid value 'press' — use one of 'compliance' or "
            "'communications'",
        ),
        (
            "    audience: [compliance, compliance]",
            "9: rule acme-brand-watch: audience: an audience is listed twice: list each of "
            "compliance, communications once",
        ),
    ],
)
def test_a_bad_audience_names_file_line_and_fix(write_pack, org_dir, audience: str, message: str) -> None:
    path = write_pack("acme.yaml", RULE.format(audience=audience))
    assert _errors(org_dir) == [f"{path}:{message}"]


def _alerts_for(policies_dir: Path, text: str) -> dict[str, bool]:
    """rule id → comms_visible of the alerts the real pipeline makes of one external employee post."""
    pipeline = build_pipeline(Settings(_env_file=None, policies_dir=policies_dir))
    post = Post(id="x-1", source=Source.EXTERNAL, channel="x", text=text, lang="en",
                author=Author(id="u-1", is_employee=True, role="employee"))  # fmt: skip
    [result] = pipeline.process([post])
    return {alert.rule_id: alert.comms_visible for alert in result.alerts}


def test_the_audience_reaches_the_alert_whatever_the_rule_id(write_pack, org_dir) -> None:
    write_pack("acme.yaml", RULE.format(audience=""))
    visible = _alerts_for(org_dir, "ExampleCo is a terrible, awful employer and I hate it")
    assert visible == {"acme-brand-watch": False, "global-brand-negative-employee-external": True}
