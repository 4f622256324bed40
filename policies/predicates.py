"""Rule conditions compiled to plain closures with three-valued evaluation.

A predicate over a detector that has not run yet is *unknown*; ``all``/``any``/``not`` follow Kleene
logic. Because the logic is monotone, substituting "no findings" for a skipped detector never changes
a decided outcome.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from detectors.base import Finding
from policies.names import detectors_for_entities
from policies.post import Post
from policies.schema import Condition

Tri = bool | None  # None: unknown, a detector it depends on has not run yet


class Context:
    """One post's findings grouped by detector, and which detectors' findings are final."""

    __slots__ = ("by_detector", "post", "ran")

    def __init__(self, post: Post, findings: Sequence[Finding], ran: Collection[str]) -> None:
        self.post = post
        self.ran = ran
        grouped: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            grouped[finding.detector].append(finding)
        self.by_detector = grouped


@dataclass(frozen=True)
class Outcome:
    value: Tri
    findings: tuple[Finding, ...] = ()
    clauses: tuple[str, ...] = ()


FALSE = Outcome(False)
UNKNOWN = Outcome(None)
Evaluator = Callable[[Context], Outcome]


@dataclass(frozen=True)
class Node:
    evaluate: Evaluator
    detectors: frozenset[str]
    text: str  # the condition in words, for "not (...)" clauses and `veille policies explain`


def _quote(finding: Finding, post: Post) -> str:
    phrase = finding.extra.get("phrase") if finding.extra else None
    return str(phrase) if phrase else post.text[finding.start : finding.end]


_WORD = re.compile(r"\w+")
# A predicate over thousands of findings (a post full of addresses) quotes this many in its clauses,
# then says how many more there were: the explanation stays readable and the alert small.
MAX_CLAUSES_PER_PREDICATE = 10


def _clauses(findings: Sequence[Finding], describe: Callable[[Finding], str]) -> tuple[str, ...]:
    shown = tuple(describe(f) for f in findings[:MAX_CLAUSES_PER_PREDICATE])
    more = len(findings) - len(shown)
    return (*shown, f"... and {more} more") if more > 0 else shown


class _WordIndex:
    """Where the words of a text start and end, to count the words between two spans in O(log n)."""

    def __init__(self, text: str) -> None:
        words = [match.span() for match in _WORD.finditer(text)]
        self.starts = [start for start, _ in words]
        self.ends = [end for _, end in words]

    def between(self, start: int, end: int) -> int:
        """Words with a character in ``text[start:end]``: what ``_WORD.findall`` on the slice counts."""
        if start >= end:
            return 0
        return bisect_left(self.starts, end) - bisect_right(self.ends, start)

    def start_of(self, index: int) -> int | None:
        """Where word ``index`` starts; None past the last word."""
        return self.starts[index] if index < len(self.starts) else None


def compile_condition(cond: Condition, lists: Mapping[str, tuple[str, ...]]) -> Node:
    if cond.all_ is not None:
        return _all([compile_condition(c, lists) for c in cond.all_])
    if cond.any_ is not None:
        return _any([compile_condition(c, lists) for c in cond.any_])
    if cond.not_ is not None:
        return _not(compile_condition(cond.not_, lists))
    if cond.pii is not None:
        return _pii(frozenset(cond.pii.entities), cond.pii.min_score, cond.pii.min_count)
    if cond.sentiment is not None:
        return _sentiment(cond.sentiment.compound_lte, cond.sentiment.compound_gte)
    if cond.lexicon is not None:
        names = tuple(cond.lexicon.lists)
        if not any(lists.get(name) for name in names):
            return _never(f"lexicon {'|'.join(names)} (empty)")
        return _lexicon(names)
    if cond.near is not None:
        near = cond.near
        if not lists.get(near.a) or not lists.get(near.b):
            return _never(f"near {near.a} within {near.within} words of {near.b} (a list is empty)")
        return _near(near.a, near.b, near.within)
    if cond.pattern is not None:
        return _pattern(frozenset(cond.pattern.names))
    if cond.author is not None:
        return _author(cond.author.role, cond.author.is_employee)
    if cond.channel is not None:
        return _channel(frozenset(c.lower() for c in cond.channel.in_))
    if cond.lang is not None:
        return _lang(frozenset(c.lower() for c in cond.lang.in_))
    raise AssertionError("schema guarantees one key per condition")  # pragma: no cover


def _never(text: str) -> Node:
    """A predicate over lists shipped empty (for adopters to fill): decided without running anything."""
    return Node(lambda ctx: FALSE, frozenset(), text)


def _all(children: list[Node]) -> Node:
    def evaluate(ctx: Context) -> Outcome:
        unknown = False
        findings: list[Finding] = []
        clauses: list[str] = []
        for child in children:
            out = child.evaluate(ctx)
            if out.value is False:
                return FALSE
            if out.value is None:
                unknown = True
            else:
                findings.extend(out.findings)
                clauses.extend(out.clauses)
        return UNKNOWN if unknown else Outcome(True, tuple(findings), tuple(clauses))

    return Node(
        evaluate,
        frozenset().union(*(c.detectors for c in children)),
        "all(" + "; ".join(c.text for c in children) + ")",
    )


def _any(children: list[Node]) -> Node:
    def evaluate(ctx: Context) -> Outcome:
        unknown = False
        matched = False
        findings: list[Finding] = []
        clauses: list[str] = []
        # Every true branch contributes its evidence: a reviewer sees all the reasons, not the first.
        for child in children:
            out = child.evaluate(ctx)
            if out.value is True:
                matched = True
                findings.extend(out.findings)
                clauses.extend(out.clauses)
            elif out.value is None:
                unknown = True
        if matched:
            return Outcome(True, tuple(findings), tuple(clauses))
        return UNKNOWN if unknown else FALSE

    return Node(
        evaluate,
        frozenset().union(*(c.detectors for c in children)),
        "any(" + "; ".join(c.text for c in children) + ")",
    )


def _not(child: Node) -> Node:
    clause = f"not {child.text}"

    def evaluate(ctx: Context) -> Outcome:
        out = child.evaluate(ctx)
        if out.value is None:
            return UNKNOWN
        return FALSE if out.value else Outcome(True, (), (clause,))

    return Node(evaluate, child.detectors, clause)


def _pii(entities: frozenset[str], min_score: float, min_count: int) -> Node:
    needed = detectors_for_entities(entities)
    # The NER detector may report its entities under detector "pii" or "ner": read both, but count the
    # predicate as decided only once every detector that can produce one of its entities has run.
    sources = ("pii", "ner")
    text = (
        f"pii {'|'.join(sorted(entities))}"
        + (f" score>={min_score:g}" if min_score else "")
        + (f" count>={min_count}" if min_count > 1 else "")
    )

    def evaluate(ctx: Context) -> Outcome:
        found = [
            f
            for d in sources
            for f in ctx.by_detector.get(d, ())
            if f.type in entities and f.score >= min_score
        ]
        if len(found) >= min_count:
            found.sort(key=lambda f: f.start)
            return Outcome(
                True,
                tuple(found),
                _clauses(found, lambda f: f"pii {f.type} (score {f.score:.2f}, chars {f.start}-{f.end})"),
            )
        return FALSE if all(d in ctx.ran for d in needed) else UNKNOWN

    return Node(evaluate, needed, text)


def _sentiment(lte: float | None, gte: float | None) -> Node:
    parts = ([f"compound<={lte:g}"] if lte is not None else []) + (
        [f"compound>={gte:g}"] if gte is not None else []
    )
    text = "sentiment " + " and ".join(parts)

    def evaluate(ctx: Context) -> Outcome:
        if "sentiment" not in ctx.ran:
            return UNKNOWN
        for f in ctx.by_detector.get("sentiment", ()):
            if (lte is None or f.score <= lte) and (gte is None or f.score >= gte):
                return Outcome(True, (f,), (f"sentiment {f.type} (compound {f.score:.2f})",))
        return FALSE

    return Node(evaluate, frozenset({"sentiment"}), text)


def _lexicon(names: tuple[str, ...]) -> Node:
    wanted = frozenset(names)
    text = f"lexicon {'|'.join(names)}"

    def evaluate(ctx: Context) -> Outcome:
        if "lexicon" not in ctx.ran:
            return UNKNOWN
        found = [f for f in ctx.by_detector.get("lexicon", ()) if f.type in wanted]
        if not found:
            return FALSE
        found = _outermost(found)
        found.sort(key=lambda f: f.start)
        clauses = _clauses(found, lambda f: f"lexicon {f.type}: '{_quote(f, ctx.post)}'")
        return Outcome(True, tuple(found), clauses)

    return Node(evaluate, frozenset({"lexicon"}), text)


def _outermost(found: list[Finding]) -> list[Finding]:
    """Without the findings inside a longer one of the same list: "confidentiel" inside "strictement
    confidentiel" is the same evidence said twice. One sort and one sweep per list."""
    kept: list[Finding] = []
    by_type: dict[str, list[Finding]] = defaultdict(list)
    for finding in found:
        by_type[finding.type].append(finding)
    for group in by_type.values():
        group.sort(key=lambda f: (f.start, -f.end))
        reach = -1  # the furthest end of the findings seen so far
        reach_before = -1  # the same, over those that start strictly earlier than the current one
        previous_start = None
        for finding in group:
            if finding.start != previous_start:
                reach_before, previous_start = reach, finding.start
            # Inside a longer one: it ends later, or ends as far but starts earlier. An identical span
            # is not longer, so both stay (as before).
            if reach > finding.end or reach_before >= finding.end:
                continue
            kept.append(finding)
            reach = max(reach, finding.end)
    return kept


def _near(a: str, b: str, within: int) -> Node:
    text = f"near {a} within {within} words of {b}"

    def evaluate(ctx: Context) -> Outcome:
        if "lexicon" not in ctx.ran:
            return UNKNOWN
        lexicon = ctx.by_detector.get("lexicon", ())
        firsts = [f for f in lexicon if f.type == a]
        seconds = sorted((f for f in lexicon if f.type == b), key=lambda f: (f.start, f.end))
        if not firsts or not seconds:
            return FALSE
        pair = _first_near_pair(_WordIndex(ctx.post.text), firsts, seconds, within)
        if pair is None:
            return FALSE
        fa, fb, gap = pair
        clause = (
            f"near {a} '{_quote(fa, ctx.post)}' and {b} '{_quote(fb, ctx.post)}' "
            f"({gap} word{'s' if gap != 1 else ''} apart, at most {within})"
        )
        return Outcome(True, tuple(sorted((fa, fb), key=lambda f: f.start)), (clause,))

    return Node(evaluate, frozenset({"lexicon"}), text)


def _first_near_pair(
    words: _WordIndex, firsts: Sequence[Finding], seconds: Sequence[Finding], within: int
) -> tuple[Finding, Finding, int] | None:
    """The first ``a`` (in order) with a ``b`` at most ``within`` words away, that ``b`` (the earliest),
    and the words between them; None when there is no such pair.

    ``seconds`` is sorted by (start, end). Each ``a`` looks only at the ``b`` that start in the few
    words around it (found by bisection), never at every ``b``: linear in the post, not quadratic.
    A ``b`` overlapping the ``a`` (one phrase in both lists, such as "invest") is not near it.
    """
    starts = [f.start for f in seconds]
    longest = max(f.end - f.start for f in seconds)
    for fa in firsts:
        # A b ending at or before fa.start, with at most `within` words in text[b.end:fa.start]:
        # it ends at or after the end of the word `within` words back, so starts `longest` before.
        words_before = bisect_left(words.starts, fa.start)
        earliest_end = words.ends[words_before - within - 1] if words_before > within else 0
        # A b ending right at fa.start is 0 words away, even inside a word that straddles them.
        low = bisect_left(starts, min(earliest_end, fa.start) - longest)
        # A b starting at or after fa.end, with at most `within` words in text[fa.end:b.start].
        words_done = bisect_right(words.ends, fa.end)
        latest_start = words.start_of(words_done + within)
        high = len(seconds) if latest_start is None else bisect_right(starts, max(latest_start, fa.end))
        for fb in seconds[low:high]:
            if fb.end <= fa.start:
                gap = words.between(fb.end, fa.start)
            elif fb.start >= fa.end:
                gap = words.between(fa.end, fb.start)
            else:
                continue
            if gap <= within:
                return fa, fb, gap
    return None


def _pattern(names: frozenset[str]) -> Node:
    text = f"pattern {'|'.join(sorted(names))}"

    def evaluate(ctx: Context) -> Outcome:
        if "pattern" not in ctx.ran:
            return UNKNOWN
        found = [f for f in ctx.by_detector.get("pattern", ()) if f.type in names]
        if not found:
            return FALSE
        # Never quote a secret in a clause: clauses are shown to every reviewer of the alert.
        clauses = _clauses(found, lambda f: f"pattern {f.type} (chars {f.start}-{f.end})")
        return Outcome(True, tuple(found), clauses)

    return Node(evaluate, frozenset({"pattern"}), text)


def _author(roles: list[str] | None, is_employee: bool | None) -> Node:
    role_set = frozenset(r.lower() for r in roles) if roles is not None else None
    parts = ([f"role in [{', '.join(sorted(role_set))}]"] if role_set is not None else []) + (
        [f"is_employee={str(is_employee).lower()}"] if is_employee is not None else []
    )
    text = "author " + " and ".join(parts)

    def evaluate(ctx: Context) -> Outcome:
        author = ctx.post.author
        if role_set is not None and author.role.lower() not in role_set:
            return FALSE
        if is_employee is not None and author.is_employee != is_employee:
            return FALSE
        return Outcome(
            True,
            (),
            (
                f"author role {author.role}"
                + (f", is_employee={str(author.is_employee).lower()}" if is_employee is not None else ""),
            ),
        )

    return Node(evaluate, frozenset(), text)


def _channel(channels: frozenset[str]) -> Node:
    text = f"channel in [{', '.join(sorted(channels))}]"

    def evaluate(ctx: Context) -> Outcome:
        if ctx.post.channel.lower() in channels:
            return Outcome(True, (), (f"channel {ctx.post.channel}",))
        return FALSE

    return Node(evaluate, frozenset(), text)


def _lang(langs: frozenset[str]) -> Node:
    text = f"lang in [{', '.join(sorted(langs))}]"

    def evaluate(ctx: Context) -> Outcome:
        if ctx.post.lang is not None and ctx.post.lang in langs:
            return Outcome(True, (), (f"lang {ctx.post.lang}",))
        return FALSE

    return Node(evaluate, frozenset(), text)
