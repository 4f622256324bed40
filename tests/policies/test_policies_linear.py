"""Rule conditions stay linear in the post: `near` and `lexicon` on posts with thousands of findings.

The old pairwise implementations are kept here as the reference: the linear ones must decide exactly
as they did (same outcome, same pair, same word gap) on thousands of random posts.
"""

from __future__ import annotations

import random
import re
import time

import pytest

from detectors.base import Finding
from detectors.lexicon import LexiconMatcher
from policies import RuleHit, load_policy_set
from policies.post import Post
from policies.predicates import MAX_CLAUSES_PER_PREDICATE, _first_near_pair, _outermost, _WordIndex

_WORD = re.compile(r"\w+")


def reference_near(text: str, firsts: list[Finding], seconds: list[Finding],
                   within: int) -> tuple[Finding, Finding, int] | None:
    for fa in firsts:
        for fb in seconds:
            if fa.start < fb.end and fb.start < fa.end:
                continue
            first, second = (fa, fb) if fa.start <= fb.start else (fb, fa)
            gap = len(_WORD.findall(text[first.end : second.start]))
            if gap <= within:
                return fa, fb, gap
    return None


def reference_outermost(found: list[Finding]) -> list[Finding]:
    return [f for f in found if not any(
        g is not f and g.type == f.type and g.start <= f.start and f.end <= g.end
        and g.end - g.start > f.end - f.start for g in found)]


def _random_spans(rng: random.Random, length: int, count: int, kind: str) -> list[Finding]:
    spans = []
    for _ in range(count if length else 0):
        start = rng.randrange(length)
        spans.append(Finding("lexicon", kind, start, rng.randint(start + 1, min(length, start + 10)), 1.0))
    return sorted(spans, key=lambda f: (f.start, f.end))


@pytest.mark.parametrize("seed", range(4))
def test_near_decides_as_the_pairwise_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        text = "".join(rng.choice("ab é_,.") for _ in range(rng.randint(1, 120)))
        firsts = _random_spans(rng, len(text), rng.randint(1, 12), "a")
        seconds = _random_spans(rng, len(text), rng.randint(1, 12), "b")
        within = rng.randint(0, 6)
        assert _first_near_pair(_WordIndex(text), firsts, seconds, within) == reference_near(
            text, firsts, seconds, within), (text, firsts, seconds, within)


@pytest.mark.parametrize("seed", range(4))
def test_outermost_keeps_what_the_pairwise_reference_keeps(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        found = _random_spans(rng, 60, rng.randint(0, 20), "a")
        found += _random_spans(rng, 60, rng.randint(0, 5), "b")
        found += [Finding(f.detector, f.type, f.start, f.end, 1.0) for f in found[:2]]  # identical spans
        assert sorted(map(id, _outermost(list(found)))) == sorted(map(id, reference_outermost(found)))


def _post(text: str, country: str) -> Post:
    return Post.model_validate({"id": "p", "source": "external", "channel": "x", "lang": "en", "text": text,
                                "author": {"id": "a", "country": country, "is_employee": True}})


def _lexicon_hits(country: str, text: str) -> tuple[float, list[RuleHit]]:
    plan = load_policy_set().plan_for(country)
    post = _post(text, country)
    findings = LexiconMatcher(plan.detector_plan.lexicon_lists).match(post.text)
    started = time.perf_counter()
    hits = plan.evaluate(post, findings)
    return time.perf_counter() - started, hits


def test_near_on_thousands_of_words_of_each_list_is_quick() -> None:
    # 8,000 insults, then 4,000 "you" ten words away: 32 million pairs for the pairwise version
    # (killed after two minutes before), none of them near enough.
    far_time, far = _lexicon_hits("GB", "idiot " * 8000 + "x " * 10 + "you " * 4000)
    near_time, near = _lexicon_hits("GB", "idiot " * 8000 + "you " * 4000)
    assert "global-harassment-insult" not in {hit.rule_id for hit in far}
    assert "global-harassment-insult" in {hit.rule_id for hit in near}
    assert far_time + near_time < 5, f"the rules took {far_time + near_time:.1f} s on two 70 KB posts"


def test_a_predicate_over_thousands_of_findings_quotes_a_few_and_counts_the_rest() -> None:
    elapsed, hits = _lexicon_hits("FR", "strictly confidential " * 4500)
    assert elapsed < 5, f"the rules took {elapsed:.1f} s on 9,000 lexicon findings (9 s before)"
    assert hits
    for hit in hits:
        # "confidential" inside each "strictly confidential" is dropped: 4,500 spans, not 9,000.
        assert len([f for f in hit.findings if f.detector == "lexicon"]) == 4500
        lexicon_clauses = [clause for clause in hit.clauses if clause.startswith("lexicon")]
        assert 1 <= len(lexicon_clauses) <= MAX_CLAUSES_PER_PREDICATE  # identical quotes count once
        assert f"... and {4500 - MAX_CLAUSES_PER_PREDICATE} more" in hit.clauses
