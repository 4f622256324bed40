"""PII detection against an independent evaluation set: precision and recall per entity.

    .venv/bin/python bench/pii_eval.py [--data tests/detectors/data/pii_eval.jsonl] [--errors]

The set (``tests/detectors/data/pii_eval.jsonl``) was written for this measurement from everyday
phrasings (customer service, HR, retail, banking, chat; EN and FR), not from the recognizers' own
tests: true names, e-mails, phones, IBANs, cards and national numbers, next to what must not be
reported (retailers, banks and fashion houses, capitalised words opening a sentence, room numbers and
reference codes). The ``pii`` and ``ner`` detectors run as ``veille scan --detect all`` runs them.
A finding counts when a gold span of the same entity overlaps it; LOCATION is not scored.
Last line: ``precision=<p> recall=<r>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE), *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

DEFAULT_DATA = Path(_HERE).parent / "tests" / "detectors" / "data" / "pii_eval.jsonl"
SCORED = frozenset(
    {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "CREDIT_CARD", "FR_NIR", "US_SSN", "UK_NINO"}
)


def main(argv: Sequence[str] | None = None) -> int:
    from detectors.registry import build_detectors, full_plan
    from policies.post import Author, Post, Source

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", action="store_true", help="list false positives and misses")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    detectors = [d for d in build_detectors() if d.name in ("pii", "ner")]
    found: dict[str, list[tuple[str, int, int]]] = {}
    for row in rows:
        post = Post(
            id=row["id"], source=Source.INTERNAL, channel="teams", author=Author(id="eval"),
            text=row["text"], lang=row["lang"], jurisdiction=row["jurisdiction"],
        )
        plan = full_plan(row["jurisdiction"])
        findings = [f for d in detectors for f in d.detect([post], plan)[0]]
        found[row["id"]] = [(f.type, f.start, f.end) for f in findings if f.type in SCORED]

    true_pos, false_pos, gold_hit, gold_total = Counter(), Counter(), Counter(), Counter()
    errors: list[str] = []
    for row in rows:
        text, gold = row["text"], row["entities"]
        for entity, start, end in found[row["id"]]:
            if any(g["type"] == entity and g["start"] < end and start < g["end"] for g in gold):
                true_pos[entity] += 1
            else:
                false_pos[entity] += 1
                errors.append(f"  FP {entity} {text[start:end]!r} in {row['id']}")
        for g in gold:
            gold_total[g["type"]] += 1
            if any(e == g["type"] and s < g["end"] and g["start"] < t for e, s, t in found[row["id"]]):
                gold_hit[g["type"]] += 1
            else:
                errors.append(f"  missed {g['type']} {text[g['start']:g['end']]!r} in {row['id']}")
    print(f"{'entity':<16}{'gold':>6}{'found':>7}{'prec':>7}{'rec':>7}")
    for entity in sorted(set(gold_total) | set(false_pos)):
        flagged = true_pos[entity] + false_pos[entity]
        precision = true_pos[entity] / flagged if flagged else 1.0
        recall = gold_hit[entity] / gold_total[entity] if gold_total[entity] else 1.0
        print(f"{entity:<16}{gold_total[entity]:>6}{flagged:>7}{precision:>7.2f}{recall:>7.2f}")
    if args.errors:
        print("\n".join(errors))
    flagged = sum(true_pos.values()) + sum(false_pos.values())
    precision = sum(true_pos.values()) / flagged if flagged else 1.0
    recall = sum(gold_hit.values()) / sum(gold_total.values())
    print(
        f"{len(rows)} texts, {sum(gold_total.values())} gold entities, {flagged} findings: "
        f"precision={precision:.3f} recall={recall:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
