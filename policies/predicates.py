"""Rule conditions compiled to plain closures with three-valued evaluation.

A predicate over a detector that has not run yet is *unknown*; ``all``/``any``/``not`` follow Kleene
logic. Because the logic is monotone, substituting "no findings" for a skipped detector never changes
a decided outcome.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from detectors.base import Finding
from policies.names import detectors_for_entities
from policies.post import Post
from policies.schema import ClassifierPredicate, Condition

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
# A sentence ends at . ! ? … followed by a space or the end, or at a line break.
_SENTENCE_END = re.compile(r"[.!?…]+(?:\s|$)|\n")


def _words_between(text: str, first: Finding, second: Finding) -> int:
    if first.start > second.start:
        first, second = second, first
    return len(_WORD.findall(text[first.end : second.start]))


def _same_sentence(text: str, first: Finding, second: Finding) -> bool:
    if first.start > second.start:
        first, second = second, first
    return _SENTENCE_END.search(text, first.end, max(first.end, second.start)) is None


def _close_pair(
    text: str, firsts: Sequence[Finding], seconds: Sequence[Finding], within: int, sentence: bool
) -> tuple[Finding, Finding, int] | None:
    """The first pair near enough, with the words between them; never one span with itself (a
    phrase in both lists, "invest", is one word, not two words near each other)."""
    for first in firsts:
        for second in seconds:
            if first.start < second.end and second.start < first.end:
                continue
            if sentence and not _same_sentence(text, first, second):
                continue
            gap = _words_between(text, first, second)
            if gap <= within:
                return first, second, gap
    return None


def _apart(gap: int, within: int, sentence: bool) -> str:
    return f"{gap} word{'s' if gap != 1 else ''} apart, at most {within}" + (
        ", same sentence" if sentence else ""
    )


def compile_condition(
    cond: Condition,
    lists: Mapping[str, tuple[str, ...]],
    classifier_thresholds: Mapping[str, float] | None = None,
) -> Node:
    """``classifier_thresholds``: the shipped model's threshold per label, the default ``min_score``."""
    if cond.all_ is not None:
        return _all([compile_condition(c, lists, classifier_thresholds) for c in cond.all_])
    if cond.any_ is not None:
        return _any([compile_condition(c, lists, classifier_thresholds) for c in cond.any_])
    if cond.not_ is not None:
        return _not(compile_condition(cond.not_, lists, classifier_thresholds))
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
        if near.entities is not None:
            if not lists.get(near.a):
                return _never(f"near {near.a} (empty) within {near.within} words of pii")
            return _near_entities(near.a, frozenset(near.entities), near.within, near.sentence)
        assert near.b is not None
        if not lists.get(near.a) or not lists.get(near.b):
            return _never(f"near {near.a} within {near.within} words of {near.b} (a list is empty)")
        return _near(near.a, near.b, near.within, near.sentence)
    if cond.pattern is not None:
        return _pattern(frozenset(cond.pattern.names))
    if cond.classifier is not None:
        return _classifier(cond.classifier.label, classifier_floor(cond.classifier, classifier_thresholds))
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
                tuple(f"pii {f.type} (score {f.score:.2f}, chars {f.start}-{f.end})" for f in found),
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
        # "confidentiel" inside "strictement confidentiel" is the same evidence said twice.
        found = [
            f
            for f in found
            if not any(
                g is not f
                and g.type == f.type
                and g.start <= f.start
                and f.end <= g.end
                and g.end - g.start > f.end - f.start
                for g in found
            )
        ]
        found.sort(key=lambda f: f.start)
        return Outcome(True, tuple(found), tuple(f"lexicon {f.type}: '{_quote(f, ctx.post)}'" for f in found))

    return Node(evaluate, frozenset({"lexicon"}), text)


def _near(a: str, b: str, within: int, sentence: bool = False) -> Node:
    text = f"near {a} within {within} words of {b}" + (" in one sentence" if sentence else "")

    def evaluate(ctx: Context) -> Outcome:
        if "lexicon" not in ctx.ran:
            return UNKNOWN
        lexicon = ctx.by_detector.get("lexicon", ())
        firsts = [f for f in lexicon if f.type == a]
        seconds = [f for f in lexicon if f.type == b]
        pair = _close_pair(ctx.post.text, firsts, seconds, within, sentence)
        if pair is None:
            return FALSE
        fa, fb, gap = pair
        clause = (
            f"near {a} '{_quote(fa, ctx.post)}' and {b} '{_quote(fb, ctx.post)}' "
            f"({_apart(gap, within, sentence)})"
        )
        return Outcome(True, tuple(sorted((fa, fb), key=lambda f: f.start)), (clause,))

    return Node(evaluate, frozenset({"lexicon"}), text)


def _near_entities(a: str, entities: frozenset[str], within: int, sentence: bool) -> Node:
    """A phrase of ``a`` near personal data (a PERSON): decided False without the costly NER pass
    whenever the post has no phrase of ``a``."""
    needed = detectors_for_entities(entities)
    names = "|".join(sorted(entities))
    text = f"near {a} within {within} words of pii {names}" + (" in one sentence" if sentence else "")

    def evaluate(ctx: Context) -> Outcome:
        if "lexicon" not in ctx.ran:
            return UNKNOWN
        firsts = [f for f in ctx.by_detector.get("lexicon", ()) if f.type == a]
        if not firsts:
            return FALSE
        seconds = [f for d in ("pii", "ner") for f in ctx.by_detector.get(d, ()) if f.type in entities]
        pair = _close_pair(ctx.post.text, firsts, seconds, within, sentence)
        if pair is None:
            return FALSE if all(d in ctx.ran for d in needed) else UNKNOWN
        fa, fb, gap = pair
        # Never quote the personal data itself: the clause is shown to every reviewer.
        clause = (
            f"near {a} '{_quote(fa, ctx.post)}' and pii {fb.type} (chars {fb.start}-{fb.end}) "
            f"({_apart(gap, within, sentence)})"
        )
        return Outcome(True, tuple(sorted((fa, fb), key=lambda f: f.start)), (clause,))

    return Node(evaluate, frozenset({"lexicon"}) | needed, text)


def _pattern(names: frozenset[str]) -> Node:
    text = f"pattern {'|'.join(sorted(names))}"

    def evaluate(ctx: Context) -> Outcome:
        if "pattern" not in ctx.ran:
            return UNKNOWN
        found = [f for f in ctx.by_detector.get("pattern", ()) if f.type in names]
        if not found:
            return FALSE
        # Never quote a secret in a clause: clauses are shown to every reviewer of the alert.
        return Outcome(
            True, tuple(found), tuple(f"pattern {f.type} (chars {f.start}-{f.end})" for f in found)
        )

    return Node(evaluate, frozenset({"pattern"}), text)


def classifier_floor(predicate: ClassifierPredicate, thresholds: Mapping[str, float] | None) -> float:
    """The score a classifier predicate needs: its ``min_score``, else the model's threshold."""
    if predicate.min_score is not None:
        return predicate.min_score
    if thresholds is None or predicate.label not in thresholds:
        raise ValueError(f"no model threshold for classifier label {predicate.label!r}")
    return thresholds[predicate.label]


SHOWN_PHRASES = 3


def _phrases(finding: Finding, ctx: Context) -> str:
    """The words that drove a classifier score, personal data and secrets among them masked.

    The clause is shown to every reviewer of the alert, like the evidence snippet, and must not
    show more than the snippet does.
    """
    sensitive = [f for d in ("pii", "pattern") for f in ctx.by_detector.get(d, ())]
    shown = []
    for phrase in list(finding.extra.get("phrases", ()))[:SHOWN_PHRASES]:
        start, end = int(phrase["start"]), int(phrase["end"])
        masked = next((f for f in sensitive if f.start < end and start < f.end), None)
        words = f"[{masked.type}]" if masked is not None else str(phrase["phrase"])
        shown.append(f"'{words}' +{float(phrase['weight']):.2f}")
    return ", ".join(shown)


def _classifier(label: str, floor: float) -> Node:
    text = f"classifier {label} score>={floor:g}"

    def evaluate(ctx: Context) -> Outcome:
        if "classifier" not in ctx.ran:
            return UNKNOWN
        for f in ctx.by_detector.get("classifier", ()):
            if f.type == label and f.score >= floor:
                threshold = f.extra.get("threshold")
                against = f"{f.score:.2f} >= {floor:.2f}"
                if threshold is not None and threshold != floor:
                    against += f" (model threshold {float(threshold):.2f})"
                phrases = _phrases(f, ctx)
                clause = f"classifier {label} {against}" + (f", driven by {phrases}" if phrases else "")
                return Outcome(True, (f,), (clause,))
        return FALSE

    return Node(evaluate, frozenset({"classifier"}), text)


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
