"""Policy decisions against an independent evaluation set: alert or not, per post and jurisdiction.

    .venv/bin/python bench/policy_eval.py [--data tests/policies/data/policy_eval.jsonl] [--misses]

The set (``tests/policies/data/policy_eval.jsonl``) was written from regulators' guidance and
enforcement cases before the packs were changed, and is never used to tune a rule or train the
classifier: it measures. A post "alerts" when any non-shadow rule of its jurisdiction's plan hits,
through the real pipeline (the detectors and engine `veille run` uses). Last line:
``accuracy=<a> alerted=<share of should-alert posts alerted> left_alone=<share of the others>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE), *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

DEFAULT_DATA = Path(_HERE).parent / "tests" / "policies" / "data" / "policy_eval.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def decisions(rows: Sequence[dict[str, Any]], policies_dir: Path | None = None) -> list[list[str]]:
    """The alerting rule ids per row, through the real pipeline."""
    from monitor.pipeline import build_pipeline
    from monitor.settings import Settings
    from policies.post import Author, Post, Source

    settings = Settings(policies_dir=policies_dir)
    pipeline = build_pipeline(settings)
    posts = [
        Post(
            id=row["id"],
            source=Source(row["source"]),
            channel=row["channel"],
            author=Author(id=f"author-{row['id']}", role=row["role"], is_employee=row["is_employee"]),
            text=row["text"],
            lang=row.get("lang"),
            jurisdiction=row["jurisdiction"],
        )
        for row in rows
    ]
    return [[alert.rule_id for alert in result.alerts] for result in pipeline.process(posts)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--policies-dir", type=Path, default=None)
    parser.add_argument("--misses", action="store_true", help="list the wrong decisions")
    args = parser.parse_args(argv)
    rows = load(args.data)
    fired = decisions(rows, args.policies_dir)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp, fn, tn, fp
    wrong = []
    for row, rules in zip(rows, fired, strict=True):
        cell = per[row["category"]]
        if row["expect"]:
            cell[0 if rules else 1] += 1
        else:
            cell[3 if rules else 2] += 1
        if bool(rules) != row["expect"]:
            wrong.append((row, rules))
    print(f"{'category':<18}{'should alert':>14}{'should not':>14}")
    totals = [0, 0, 0, 0]
    for category in sorted(per):
        tp, fn, tn, fp = per[category]
        totals = [a + b for a, b in zip(totals, (tp, fn, tn, fp), strict=True)]
        print(f"{category:<18}{f'{tp}/{tp + fn}':>14}{f'{tn}/{tn + fp}':>14}")
    tp, fn, tn, fp = totals
    if args.misses:
        for row, rules in wrong:
            what = "false alert " + ",".join(rules) if rules else "missed"
            print(f"  {row['id']} ({row['jurisdiction']}, {row['role']}): {what}")
    print(
        f"{len(rows)} posts: {tp}/{tp + fn} should-alert alerted, {fp}/{tn + fp} false alerts; "
        f"accuracy={(tp + tn) / len(rows):.3f} alerted={tp / (tp + fn):.3f} left_alone={tn / (tn + fp):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
