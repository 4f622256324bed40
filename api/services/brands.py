"""E-reputation for communications: a brand's share of voice, negative themes and timeline.

Reads the per-window numbers the workers' reputation aggregator saves (``alerts.reputation_store``).
Only aggregates come out of here: counts, means and frequent words, never a post, an author or a
text. A theme word is shown only once at least ``MIN_THEME_POSTS`` negative posts used it, so that
a word only one person writes (a nickname, a rare surname in lower case) does not single them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException
from pydantic import BaseModel, Field

from alerts.reputation_store import ReputationStore
from api.errors import BadRequest

MAX_POINTS = 2000
MIN_THEME_POSTS = 5


class TimelinePoint(BaseModel):
    start: datetime
    volume: int = Field(description="posts naming the brand")
    scored: int = Field(description="of which had a sentiment score (English or French)")
    negative_share: float | None = Field(description="negative posts / scored posts; null when none scored")
    mean_compound: float | None = Field(description="mean VADER compound score; null when none scored")


class Timeline(BaseModel):
    brand: str
    start: datetime
    end: datetime
    step: int = Field(description="seconds per point")
    jurisdiction: str | None
    source: str | None
    points: list[TimelinePoint]


class BrandShare(BaseModel):
    brand: str
    volume: int = Field(description="posts naming the brand")
    share: float | None = Field(description="volume / all brands' volume; null when no brand was named")


class ShareOfVoice(BaseModel):
    start: datetime
    end: datetime
    jurisdiction: str | None
    source: str | None
    total: int = Field(description="posts naming a brand, counted once per brand named")
    brands: list[BrandShare]


class Theme(BaseModel):
    term: str
    posts: int = Field(description="negative posts naming the brand that used the word")


class Themes(BaseModel):
    brand: str
    start: datetime
    end: datetime
    negative_posts: int
    min_posts: int = Field(description="a word used by fewer negative posts is never shown")
    themes: list[Theme]


@dataclass(frozen=True)
class WindowQuery:
    """The time range and filters every brand route takes, as the request gave them."""

    start: datetime
    end: datetime
    jurisdiction: str | None = None  # a policy pack, upper case
    source: str | None = None


class BrandReports:
    """The brand routes' answers for the configured ``brands``, counted in windows of ``window_seconds``."""

    def __init__(self, store: ReputationStore, brands: Sequence[str], window_seconds: int) -> None:
        self._store = store
        self._brands = list(brands)
        self._window = window_seconds

    def share_of_voice(self, query: WindowQuery) -> ShareOfVoice:
        """Every configured brand, in configuration order."""
        first, last = self._range(query)
        volumes = self._store.volumes(first, last, query.jurisdiction, query.source)
        total = sum(volumes.get(name, 0) for name in self._brands)
        return ShareOfVoice(
            start=datetime.fromtimestamp(first, UTC), end=query.end.astimezone(UTC),
            jurisdiction=query.jurisdiction, source=query.source, total=total,
            brands=[BrandShare(brand=name, volume=volumes.get(name, 0),
                               share=volumes.get(name, 0) / total if total else None)
                    for name in self._brands],
        )

    def themes(self, brand: str, query: WindowQuery, limit: int) -> Themes:
        """The ``limit`` words most negative posts used, each used by at least ``MIN_THEME_POSTS``."""
        self._known(brand)
        first, last = self._range(query)
        counts: dict[str, int] = {}
        negatives = 0
        for row in self._store.windows(brand, first, last, query.jurisdiction, query.source):
            negatives += row.negatives
            for term, posts in row.negative_terms.items():
                counts[term] = counts.get(term, 0) + posts
        ranked = sorted((item for item in counts.items() if item[1] >= MIN_THEME_POSTS),
                        key=lambda item: (-item[1], item[0]))[:limit]
        return Themes(brand=brand, start=datetime.fromtimestamp(first, UTC), end=query.end.astimezone(UTC),
                      negative_posts=negatives, min_posts=MIN_THEME_POSTS,
                      themes=[Theme(term=term, posts=posts) for term, posts in ranked])

    def timeline(self, brand: str, query: WindowQuery, step: int | None) -> Timeline:
        """One zero-filled point per ``step`` seconds (default: the window) from ``start`` to ``end``."""
        self._known(brand)
        window = self._window
        step = step or window
        if step % window:
            raise BadRequest(
                f"step: {step} s is not a multiple of the window length {window} s (e.g. {window})"
            )
        first, last = self._range(query)
        count = -(-(last - first) // step)
        if count > MAX_POINTS:
            raise BadRequest(
                f"step: {count} points requested, at most {MAX_POINTS}; use a larger step or range"
            )
        volume = [0] * count
        scored = [0] * count
        negatives = [0] * count
        compound = [0.0] * count
        for row in self._store.windows(brand, first, last, query.jurisdiction, query.source):
            i = (row.window_start - first) // step
            volume[i] += row.volume
            scored[i] += row.scored
            negatives[i] += row.negatives
            compound[i] += row.compound_sum
        points = [
            TimelinePoint(
                start=datetime.fromtimestamp(first + i * step, UTC),
                volume=volume[i],
                scored=scored[i],
                negative_share=negatives[i] / scored[i] if scored[i] else None,
                mean_compound=compound[i] / scored[i] if scored[i] else None,
            )
            for i in range(count)
        ]
        return Timeline(brand=brand, start=datetime.fromtimestamp(first, UTC), end=query.end.astimezone(UTC),
                        step=step, jurisdiction=query.jurisdiction, source=query.source, points=points)

    def _known(self, brand: str) -> None:
        if brand not in self._brands:
            raise HTTPException(
                status_code=404, detail=f"brand {brand!r} is not configured; known: {self._brands}"
            )

    def _range(self, query: WindowQuery) -> tuple[int, int]:
        """``from``/``to`` (aware, in range: see ``alerts.query.Instant``) as epoch seconds, ``from``
        aligned on the windows the workers count in."""
        first, last = int(query.start.timestamp()), int(query.end.timestamp())
        if first >= last:
            raise BadRequest(
                f"from ({query.start.isoformat()}) must be earlier than to ({query.end.isoformat()})"
            )
        return first - first % self._window, last
