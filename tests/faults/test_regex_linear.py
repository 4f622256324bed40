"""Every pattern Veille runs on post text takes time linear in the text, whatever the text.

The patterns are enumerated from the code, so that a new one is covered without editing this test:
every compiled regex held at module level by ``detectors``, ``policies``, ``alerts`` and ``monitor``
(in a tuple, mapping or dataclass too; a ``SpanFinder`` is run as a whole), and the patterns of every
recognizer the ``pii`` detector builds, for every entity and every jurisdiction's phone regions.

Each runs on adversarial 100 KB texts: runs of one character, alternations of separators and digits,
and, derived from the pattern itself, a string it matches, cut short at several points and repeated
("Host=" 20,000 times, "-----BEGIN RSA PRIVATE KEY-----" 3,000 times). The budget is a known-linear
baseline timed on the same text in the same process (a regex matching every 64 characters) times a
factor chosen from measurements: the slowest linear pattern stays 4 times under it, the mildest of the
quadratic ones this test caught (the private-key block's lazy scan) goes 10 times over it, the others
30 to 10,000 times. Times are CPU times of this thread, so that other work on the machine does not
count; a run over its budget is interrupted rather than waited for. A recognizer as a whole (patterns,
Presidio's per-result work, windows, libphonenumber) must also take time that grows like the text.

The whole pipeline (plan and ``--detect all`` modes) runs on a selection of these texts under a budget
proportional to the size: 100 KB may cost 8 times what 25 KB of the same text costs (4 if linear), and
never more than a ceiling proportional to what ordinary posts of that size cost.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import pytest
import regex

from detectors.catalogue import PATTERN_PII_ENTITIES
from detectors.config import DetectorConfig
from detectors.pii import PiiDetector, analyze_in_windows
from monitor.pipeline import Pipeline, build_pipeline
from monitor.settings import Settings
from policies.post import Post

SIZE = 100_000
# Budget factors over the baseline, from measurements (see the module docstring).
PATTERN_FACTOR = 400  # slowest linear pattern ~100x (RE2's Python wrapper, a match every 12 characters)
# A recognizer builds and checks a Presidio result per match, and libphonenumber parses every digit
# group of a candidate (~35 µs per character of "12 12 12 ...", four regions): rather than a budget over
# the baseline, its time must grow like the text (4x from 25 KB to 100 KB; 16x if quadratic).
RECOGNIZER_GROWTH_LIMIT = 8
RECOGNIZER_MEASURABLE_S = 0.01  # under this at 100 KB, timer noise says nothing about growth
PIPELINE_GROWTH_LIMIT = 8
PIPELINE_MEASURABLE_S = 0.05
# The ceiling over ordinary posts of the same size. In plan mode ordinary text skips most recognizers
# (prefilters) while digit groups pass them all and cost up to 120x (libphonenumber, four regions);
# with --detect all, NER dominates both (2x).
PIPELINE_CEILING = {False: 400, True: 10}
PACKAGES = ("detectors", "policies", "alerts", "monitor")
_PATTERN_TYPES = (re.Pattern, type(regex.compile("")))
_BASELINE = re.compile(r"[\s\S]{64}")


class _OverBudget(Exception):
    pass


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block once this process has used ``seconds`` of CPU (pytest-timeout owns SIGALRM)."""

    def stop(signum: int, frame: Any) -> None:
        raise _OverBudget

    previous = signal.signal(signal.SIGVTALRM, stop)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def _cpu_seconds(run: Callable[[], object], limit: float, repeat: int = 2) -> float:
    """The least CPU time of ``repeat`` runs; infinity if one goes over ``limit``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        try:
            with _cpu_limit(limit):
                run()
        except _OverBudget:
            return float("inf")
        best = min(best, time.thread_time() - start)
    return best


_baselines: dict[str, float] = {}


def _baseline(text: str) -> float:
    if text not in _baselines:
        _baselines[text] = _cpu_seconds(lambda: [match.span() for match in _BASELINE.finditer(text)], 60, 5)
    return _baselines[text]


def _fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


# --- adversarial texts ---

GENERIC_UNITS = (
    "a",
    "A",
    "0",
    " ",
    "\n",
    ".",
    "-",
    ":",
    "=",
    "é",
    "\u200b",
    "1 ",
    "1-",
    "1.",
    "12 ",
    "1:",
    "a1",
    "a.",
    "a-",
    "a@",
    "a:",
)

# What identifiers are made of: the recognizers' own texts come from their patterns.
DIGIT_UNITS = ("0", "1 ", "12 ", "1:", "::")

_CANDIDATE_CHARS = "aA1 .-_:@/=;x\n'\"#+,~%é"


def _category_holds(category: Any, char: str) -> bool:
    tests = {
        C.CATEGORY_DIGIT: lambda c: re.match(r"\d", c) is not None,
        C.CATEGORY_SPACE: str.isspace,
        C.CATEGORY_WORD: lambda c: re.match(r"\w", c) is not None,
    }
    negated = {
        C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT,
        C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE,
        C.CATEGORY_NOT_WORD: C.CATEGORY_WORD,
    }
    if category in negated:
        return not tests[negated[category]](char)
    return bool(tests.get(category, lambda c: False)(char))


def _in_class(items: list[tuple[Any, Any]], char: str) -> bool:
    negate = False
    member = False
    for op, value in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            member |= ord(char) == value
        elif op is C.RANGE:
            member |= value[0] <= ord(char) <= value[1]
        elif op is C.CATEGORY:
            member |= _category_holds(value, char)
    return member != negate


def _pick(holds: Callable[[str], bool]) -> str:
    return next((char for char in _CANDIDATE_CHARS if holds(char)), "")


def _emit(items: Any, last: bool, groups: dict[int, str]) -> str:
    """A string the parsed pattern matches (assertions aside): first or last alternatives throughout."""
    out: list[str] = []
    for op, value in items:
        if op is C.LITERAL:
            out.append(chr(value))
        elif op is C.NOT_LITERAL:
            out.append(_pick(lambda c, v=value: ord(c) != v))
        elif op is C.ANY:
            out.append("a")
        elif op is C.IN:
            out.append(_pick(lambda c, v=value: _in_class(v, c)))
        elif op is C.CATEGORY:
            out.append(_pick(lambda c, v=value: _category_holds(v, c)))
        elif op is C.BRANCH:
            out.append(_emit(value[1][-1 if last else 0], last, groups))
        elif op is C.SUBPATTERN:
            group, _, _, sub = value
            groups[group] = _emit(sub, last, groups)
            out.append(groups[group])
        elif op is C.ATOMIC_GROUP:
            out.append(_emit(value, last, groups))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, high, sub = value
            out.append(_emit(sub, last, groups) * (low or (1 if high else 0)))
        elif op is C.GROUPREF:
            out.append(groups.get(value, ""))
        elif op is C.GROUPREF_EXISTS:
            out.append(_emit(value[1], last, groups))
        # AT, ASSERT, ASSERT_NOT: zero-width
    return "".join(out)


def derived_units(source: str, flags: int = 0) -> set[str]:
    """Strings close to what ``source`` matches: a match, cut short at several points, and followed by
    a separator; each is then repeated to fill the text."""
    try:
        parsed = _parser.parse(source, flags & ~regex.V1)
    except re.error:
        return set()
    units: set[str] = set()
    for last in (False, True):
        sample = _emit(parsed, last, {})
        if not sample:
            continue
        units.update(sample[:cut] for cut in (len(sample) // 2, len(sample) - 1, len(sample)) if cut)
        units.add(sample + " ")
    return units


# --- what Veille runs ---


@dataclasses.dataclass(frozen=True)
class Runnable:
    name: str
    run: Callable[[str], object]
    sources: tuple[str, ...]  # the regexes it runs, to derive adversarial texts from
    flags: int = 0


def _exhaust(found: Any) -> int:
    return sum(1 for _ in found)


def _collect(value: Any, name: str, seen: set[int], depth: int = 0) -> Iterator[Runnable]:
    if id(value) in seen or depth > 3 or isinstance(value, type):
        return
    seen.add(id(value))
    if isinstance(value, _PATTERN_TYPES):
        yield Runnable(name, lambda text, p=value: _exhaust(p.finditer(text)), (value.pattern,), value.flags)
    elif callable(getattr(value, "spans", None)) and dataclasses.is_dataclass(value):
        # A SpanFinder is linear as a whole, not each regex it holds on its own (it never runs them so).
        sources = tuple(
            getattr(value, f.name).pattern
            for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), _PATTERN_TYPES)
        )
        yield Runnable(name, lambda text, f=value: _exhaust(f.spans(text)), sources)
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from _collect(getattr(value, field.name), f"{name}.{field.name}", seen, depth + 1)
    elif isinstance(value, (tuple, list, frozenset, set)):
        for index, item in enumerate(value):
            yield from _collect(item, f"{name}[{index}]", seen, depth + 1)
    elif isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        try:
            items = list(value.items())
        except TypeError:
            return
        for key, item in items:
            yield from _collect(item, f"{name}[{key!r}]", seen, depth + 1)


def module_patterns() -> list[Runnable]:
    found: list[Runnable] = []
    seen: set[int] = set()
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if ".migrations" in info.name:
                continue  # Alembic scripts run against a database when imported
            module = importlib.import_module(info.name)
            for attribute, value in vars(module).items():
                found.extend(_collect(value, f"{info.name}.{attribute}", seen))
    return found


def _region_sets(config: DetectorConfig) -> set[tuple[str, ...]]:
    return {*config.phone_regions.values(), config.default_phone_regions}


def built_recognizers() -> list[tuple[str, Any, str]]:
    """(name, recognizer, entity) for every recognizer the pii detector builds, every region set."""
    config = DetectorConfig()
    detector = PiiDetector(config)
    built: dict[str, tuple[str, Any, str]] = {}
    # The same code runs per region: the widest region set is the costliest.
    for regions in sorted(_region_sets(config), key=len):
        for bound in detector.bound(PATTERN_PII_ENTITIES, regions):
            built[bound.recognizer.name] = (bound.recognizer.name, bound.recognizer, bound.entity)
    return list(built.values())


def recognizer_patterns() -> list[Runnable]:
    runnables = []
    for name, recognizer, _ in built_recognizers():
        for pattern in getattr(recognizer, "patterns", ()):
            flags = recognizer.global_regex_flags
            compiled = pattern.compiled_regex if pattern.compiled_with_flags == flags else None
            compiled = compiled or regex.compile(pattern.regex, flags)
            runnables.append(
                Runnable(
                    f"{name}:{pattern.name}",
                    lambda text, c=compiled: _exhaust(c.finditer(text)),
                    (pattern.regex,),
                    flags,
                )
            )
    return runnables


ALL_PATTERNS = module_patterns() + recognizer_patterns()


def _texts(runnable: Runnable, generic: tuple[str, ...] = GENERIC_UNITS) -> list[str]:
    units = set(generic)
    for source in runnable.sources:
        units |= derived_units(source, runnable.flags)
    return sorted({_fill(unit) for unit in units if unit})


def test_the_enumeration_finds_the_patterns_that_were_quadratic() -> None:
    names = {runnable.name for runnable in ALL_PATTERNS}
    assert "detectors.catalogue.PII_SPECS['IP_ADDRESS'].prefilter" in names
    assert any(
        "KeyValueConnectionStringPattern" in str(r.sources) or "Data Source" in str(r.sources)
        for r in ALL_PATTERNS
    )
    assert any(name.startswith("UrlRecognizer") for name in names)
    assert len(ALL_PATTERNS) > 60


def _over_budget(runnable: Runnable, factor: float, texts: list[str]) -> list[str]:
    over = []
    for text in texts:
        budget = factor * _baseline(text)
        spent = _cpu_seconds(lambda t=text: runnable.run(t), limit=2 * budget + 0.05, repeat=1)
        if spent > budget:
            # Measured once; a second try rules out a moment of noise before calling it super-linear.
            spent = _cpu_seconds(lambda t=text: runnable.run(t), limit=2 * budget + 0.05, repeat=1)
        if spent > budget:
            over.append(f"{text[:24]!r}... {spent:.3f}s CPU > {budget:.3f}s ({factor}x baseline)")
    return over


@pytest.mark.parametrize("runnable", ALL_PATTERNS, ids=lambda r: r.name)
def test_pattern_runs_in_linear_time(runnable: Runnable) -> None:
    assert _over_budget(runnable, PATTERN_FACTOR, _texts(runnable)) == []


def _recognizer_units(recognizer: Any) -> set[str]:
    units = set(DIGIT_UNITS)
    for pattern in getattr(recognizer, "patterns", ()):
        try:
            parsed = _parser.parse(pattern.regex, recognizer.global_regex_flags & ~regex.V1)
        except re.error:
            continue
        units |= {_emit(parsed, last, {}) + " " for last in (False, True)}
    return units


@pytest.mark.parametrize("recognizer", built_recognizers(), ids=lambda r: r[0])
def test_recognizer_runs_in_linear_time(recognizer: tuple[str, Any, str]) -> None:
    """The whole recognizer as the pii detector runs it: patterns, validation, de-duplication, windows."""
    _, built, entity = recognizer
    super_linear = []
    for unit in sorted(_recognizer_units(built)):
        small, large = ((unit * (size // len(unit) + 1))[:size] for size in (SIZE // 4, SIZE))
        for _ in range(2):  # a second measure before calling it super-linear
            large_s = _cpu_seconds(lambda t=large: analyze_in_windows(built, t, entity), 600, 1)
            small_s = _cpu_seconds(lambda t=small: analyze_in_windows(built, t, entity), 600, 1)
            growth = large_s / max(small_s, 1e-9)
            if large_s < RECOGNIZER_MEASURABLE_S or growth <= RECOGNIZER_GROWTH_LIMIT:
                break
        else:
            super_linear.append(
                f"{unit[:24]!r}: {small_s:.3f}s at 25 KB, {large_s:.3f}s at 100 KB ({growth:.1f}x)"
            )
    assert super_linear == []


# --- the whole pipeline ---

PIPELINE_UNITS = (
    "a",
    "0",
    " ",
    ".",
    ":",
    "é",
    "\u200b",
    "1 ",
    "12 ",
    "1.1.1.1 ",
    "a@b.co ",
    "a.",
    "Host=",
    "Host=a;",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "password= ",
    "eyJhbGciOiJIUzI1NiJ9.",
    "confidentiel ",
    "con\u200bfiden\u00adtial ",
    "c o n f i d e n t i a l  ",
    "guaranteed returns invest ",
)
JURISDICTIONS = ("FR", "US", "GB", "EU", "GLOBAL")


def _ordinary(size: int) -> str:
    """Ordinary posts (the policy corpus), joined up to ``size`` characters."""
    import json
    from importlib import resources

    texts = []
    for path in sorted(resources.files("policies").joinpath("corpus").iterdir()):
        if path.name.endswith(".jsonl"):
            texts += [
                json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line
            ]
    joined = "\n".join(texts)
    return (joined * (size // len(joined) + 1))[:size]


def _post(text: str, jurisdiction: str) -> Post:
    return Post(
        id="p", source="external", channel="x", author={"id": "a"}, text=text, jurisdiction=jurisdiction
    )


def _measure_pipeline(pipeline: Pipeline, unit: str, jurisdiction: str, ceiling: float) -> str | None:
    """Why the pipeline is not linear on ``unit`` repeated, or None."""
    small, large = ((unit * (size // len(unit) + 1))[:size] for size in (SIZE // 4, SIZE))
    for _ in range(2):  # a second measure before calling it super-linear
        large_s = _cpu_seconds(lambda: pipeline.process([_post(large, jurisdiction)]), 2 * ceiling, 1)
        small_s = _cpu_seconds(lambda: pipeline.process([_post(small, jurisdiction)]), 2 * ceiling, 1)
        growth = large_s / max(small_s, 1e-9)
        if large_s <= ceiling and (large_s < PIPELINE_MEASURABLE_S or growth <= PIPELINE_GROWTH_LIMIT):
            return None
    return (
        f"{unit[:24]!r} ({jurisdiction}): {small_s:.2f}s CPU at 25 KB, {large_s:.2f}s at 100 KB"
        f" (ceiling {ceiling:.2f}s)"
    )


@pytest.mark.parametrize("detect_all", [False, True], ids=["plan", "all"])
def test_pipeline_takes_time_proportional_to_the_size(detect_all: bool) -> None:
    """100 KB costs at most 8 times what 25 KB of the same costs (4 if linear, 16 if quadratic), and never
    more than a ceiling proportional to what ordinary posts of that size cost."""
    pipeline: Pipeline = build_pipeline(Settings(), detect_all=detect_all)
    for jurisdiction in JURISDICTIONS:  # models load on first use: not part of any measurement
        pipeline.process([_post("Bonjour Paris, hello London: call 06 12 34 56 78.", jurisdiction)])
    sample = _ordinary(SIZE // 5)
    per_char = max(
        _cpu_seconds(lambda j=jurisdiction: pipeline.process([_post(sample, j)]), 600, 1) / len(sample)
        for jurisdiction in ("FR", "US")
    )
    ceiling = PIPELINE_CEILING[detect_all] * per_char * SIZE
    failures = [
        _measure_pipeline(pipeline, unit, JURISDICTIONS[index % len(JURISDICTIONS)], ceiling)
        for index, unit in enumerate(PIPELINE_UNITS)
    ]
    assert [failure for failure in failures if failure] == [], f"ordinary text: {per_char * 1e6:.1f} µs/char"
