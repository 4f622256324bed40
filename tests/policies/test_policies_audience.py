"""A rule's audience travels from its pack to its alerts; its id plays no part."""

from __future__ import annotations

from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from policies.post import Author, Post, Source

OVERLAY = """
pack: {id: acme, overlay: global}
rules:
  - id: acme-brand-watch
    title: Brand named by an employee
    description: Any post naming the brand, for the compliance team only (its audience is the default).
    severity: low
    references: [x]
    when: {lexicon: brand_names}
    tests:
      match: ["exampleco again"]
      no_match: ["nothing"]
"""


def test_the_audience_reaches_the_alert_whatever_the_rule_id(write_pack, org_dir) -> None:
    write_pack("acme.yaml", OVERLAY)
    pipeline = build_pipeline(Settings(_env_file=None, policies_dir=org_dir))
    post = Post(id="x-1", source=Source.EXTERNAL, channel="x", lang="en",
                text="ExampleCo is a terrible, awful employer and I hate it",
                author=Author(id="u-1", is_employee=True, role="employee"))  # fmt: skip
    [result] = pipeline.process([post])
    visible = {alert.rule_id: alert.comms_visible for alert in result.alerts}
    assert visible == {"acme-brand-watch": False, "global-brand-negative-employee-external": True}
