"""The detection engine: run posts through the detectors a Plan needs, in the registry's order.

The production pipeline and the rule-test runner both detect through this one loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from detectors.base import Detector, DetectorPlan, Finding
from policies.compiler import Plan
from policies.post import Post


def detect(
    plan: Plan,
    posts: Sequence[Post],
    detectors: Sequence[Detector],
    *,
    detector_plan: DetectorPlan | None = None,
    gated: bool = True,
    on_timing: Callable[[str, float], None] | None = None,
) -> tuple[list[list[Finding]], list[set[str]]]:
    """Findings per post, and per post the plan's detectors that were skipped because no rule needed them.

    Detectors run in the registry's order, cheapest first; with ``gated``, a detector runs only on
    the posts where some rule can still change its outcome. ``detector_plan`` overrides what the
    detectors look for (``veille scan --detect all``), ``on_timing`` receives each detector's seconds.
    """
    detector_plan = detector_plan or plan.detector_plan
    findings: list[list[Finding]] = [[] for _ in posts]
    skipped: list[set[str]] = [set() for _ in posts]
    for detector in detectors:
        if not detector_plan.wants(detector.name):
            continue
        started = time.perf_counter()
        indexes = []
        for i, post in enumerate(posts):
            if not gated or plan.needs(detector.name, post, findings[i]):
                indexes.append(i)
            else:
                skipped[i].add(detector.name)
        if indexes:
            found = detector.detect([posts[i] for i in indexes], detector_plan)
            for i, post_findings in zip(indexes, found, strict=True):
                findings[i].extend(post_findings)
        if on_timing is not None:
            on_timing(detector.name, time.perf_counter() - started)
    return findings, skipped
