"""The shipped packs over a development set written from the regulations, through the pipeline
`veille run` uses (plan mode): breaches phrased without the lexicons' keywords, and innocent
look-alikes (risk warnings present, privacy notices, markings on internal channels, signposts,
published figures, health topics about no one, complaints, banter).

`data/dev_rules.jsonl` holds posts as producers send them, plus `category`, `expect` (alert | none)
and `why` (the provision), which the post contract keeps in metadata and no detector reads. The
floors are what the packs reach today: a rule or model change that lowers one is a regression to
look at, not a number to lower quietly.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from policies.post import Post

DATA = Path(__file__).parent / "data" / "dev_rules.jsonl"

# category: (should-alert posts alerted, others left alone), as measured.
FLOORS: dict[str, tuple[int, int]] = {
    "confidential": (4, 7),
    "disparagement": (5, 5),
    "harassment": (9, 7),
    "mnpi": (9, 8),
    "promissory": (9, 8),
    "promotion": (5, 6),
    "pumping": (6, 5),
    "special_category": (12, 10),
}


@pytest.fixture(scope="module")
def outcomes() -> list[tuple[dict[str, object], list[str]]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = build_pipeline(Settings(_env_file=None, pseudonym_key="k"))
    assert pipeline.detect_all is False  # the plan `veille run` evaluates, three-valued
    results = pipeline.process([Post.model_validate(row) for row in rows])
    return [
        (row, [alert.rule_id for alert in result.alerts]) for row, result in zip(rows, results, strict=True)
    ]


def test_the_set_covers_every_category_in_both_directions_and_languages(outcomes):
    cells = Counter((row["category"], row["expect"]) for row, _ in outcomes)
    for category in FLOORS:
        assert cells[(category, "alert")] >= 5 and cells[(category, "none")] >= 5, category
    assert {row["lang"] for row, _ in outcomes} == {"en", "fr"}
    assert {row["jurisdiction"] for row, _ in outcomes} >= {"US", "GB", "DE", "FR", "GLOBAL"}


@pytest.mark.parametrize("category", sorted(FLOORS))
def test_category_floor(outcomes, category):
    alerted = sum(
        1 for row, rules in outcomes if row["category"] == category and row["expect"] == "alert" and rules
    )
    left = sum(
        1 for row, rules in outcomes if row["category"] == category and row["expect"] == "none" and not rules
    )
    floor_alerted, floor_left = FLOORS[category]
    assert alerted >= floor_alerted and left >= floor_left, (alerted, left)


def test_overall_accuracy(outcomes):
    right = sum(1 for row, rules in outcomes if bool(rules) == (row["expect"] == "alert"))
    assert right / len(outcomes) >= 0.93
