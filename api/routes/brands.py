"""E-reputation for communications: a brand's sentiment and volume over time.

Reads the per-window numbers the workers' reputation aggregator saves (``alerts.reputation_store``).
Only aggregates leave these routes: counts, means and frequent words, never a post, an author or a
text. A theme word is shown only once at least ``MIN_THEME_POSTS`` negative posts used it, so that
a word only one person writes (a nickname, a rare surname in lower case) does not single them out.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from alerts.reputation_store import ReputationStore
from api.auth import ReaderDep
from api.deps import SettingsDep
from api.errors import BadRequest
from api.schemas import ErrorMessage

MAX_POINTS = 2000
MIN_THEME_POSTS = 5

router = APIRouter(
    prefix="/brands",
    tags=["e-reputation"],
    responses={
        401: {"model": ErrorMessage, "description": "missing, unknown, revoked or expired token"},
        403: {"model": ErrorMessage, "description": "the token's role may not call this route"},
    },
)

_open_lock = threading.Lock()


def get_reputation_store(request: Request) -> ReputationStore:
    """The reputation tables live in the alert store's database: reuse its engine, never a second one."""
    store = getattr(request.app.state, "reputation_store", None)
    if store is None:
        with _open_lock:
            store = getattr(request.app.state, "reputation_store", None)
            if store is None:
                store = request.app.state.reputation_store = ReputationStore(request.app.state.store.engine)
    return cast(ReputationStore, store)


ReputationStoreDep = Annotated[ReputationStore, Depends(get_reputation_store)]


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


def _range(start: datetime, end: datetime, window: int) -> tuple[int, int]:
    """``from``/``to`` as epoch seconds, ``from`` aligned on the windows the workers count in."""
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise BadRequest(f"{name}: {value.isoformat()} has no timezone; add Z or an offset")
    first, last = int(start.timestamp()), int(end.timestamp())
    if first >= last:
        raise BadRequest(f"from ({start.isoformat()}) must be earlier than to ({end.isoformat()})")
    return first - first % window, last


def _known(brand: str, names: list[str]) -> None:
    if brand not in names:
        raise HTTPException(status_code=404, detail=f"brand {brand!r} is not configured; known: {names}")


FromQuery = Annotated[datetime, Query(alias="from", description="ISO 8601 with a timezone, inclusive")]
ToQuery = Annotated[datetime, Query(alias="to", description="ISO 8601 with a timezone, exclusive")]
JurisdictionQuery = Annotated[str | None, Query(max_length=16, description="policy pack, e.g. FR")]
SourceQuery = Annotated[str | None, Query(pattern="^(internal|external)$")]


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


@router.get(
    "/share-of-voice",
    response_model=ShareOfVoice,
    summary="How the configured brands share the mentions over a time range",
    responses={400: {"model": ErrorMessage, "description": "bad time range"}},
)
def share_of_voice(
    settings: SettingsDep,
    store: ReputationStoreDep,
    _actor: ReaderDep,
    start: FromQuery,
    end: ToQuery,
    jurisdiction: JurisdictionQuery = None,
    source: SourceQuery = None,
) -> ShareOfVoice:
    """Roles: officer, admin, comms. Every configured brand is listed, in configuration order."""
    first, last = _range(start, end, settings.reputation.window_seconds)
    wanted = jurisdiction.upper() if jurisdiction else None
    volumes = store.volumes(first, last, wanted, source)
    names = [b.name for b in settings.brands]
    total = sum(volumes.get(name, 0) for name in names)
    return ShareOfVoice(
        start=datetime.fromtimestamp(first, UTC), end=end.astimezone(UTC), jurisdiction=wanted,
        source=source, total=total,
        brands=[BrandShare(brand=name, volume=volumes.get(name, 0),
                           share=volumes.get(name, 0) / total if total else None) for name in names],
    )


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


@router.get(
    "/{brand}/themes",
    response_model=Themes,
    summary="The most frequent words in negative posts about one brand",
    responses={
        400: {"model": ErrorMessage, "description": "bad time range"},
        404: {"model": ErrorMessage, "description": "the brand is not configured"},
    },
)
def brand_themes(
    brand: str,
    settings: SettingsDep,
    store: ReputationStoreDep,
    _actor: ReaderDep,
    start: FromQuery,
    end: ToQuery,
    limit: Annotated[int, Query(ge=1, le=100, description="words returned, most frequent first")] = 20,
    jurisdiction: JurisdictionQuery = None,
    source: SourceQuery = None,
) -> Themes:
    """Roles: officer, admin, comms. Words only: no post, author, handle, number or address."""
    _known(brand, [b.name for b in settings.brands])
    first, last = _range(start, end, settings.reputation.window_seconds)
    counts: dict[str, int] = {}
    negatives = 0
    for row in store.windows(brand, first, last, jurisdiction.upper() if jurisdiction else None, source):
        negatives += row.negatives
        for term, posts in row.negative_terms.items():
            counts[term] = counts.get(term, 0) + posts
    ranked = sorted((item for item in counts.items() if item[1] >= MIN_THEME_POSTS),
                    key=lambda item: (-item[1], item[0]))[:limit]
    return Themes(brand=brand, start=datetime.fromtimestamp(first, UTC), end=end.astimezone(UTC),
                  negative_posts=negatives, min_posts=MIN_THEME_POSTS,
                  themes=[Theme(term=term, posts=posts) for term, posts in ranked])


@router.get(
    "/{brand}/timeline",
    response_model=Timeline,
    summary="Sentiment and volume of one brand over time",
    responses={
        400: {"model": ErrorMessage, "description": "bad time range or step"},
        404: {"model": ErrorMessage, "description": "the brand is not configured"},
    },
)
def brand_timeline(
    brand: str,
    settings: SettingsDep,
    store: ReputationStoreDep,
    _actor: ReaderDep,
    start: FromQuery,
    end: ToQuery,
    step: Annotated[int | None, Query(gt=0, description="seconds per point; default: the window")] = None,
    jurisdiction: JurisdictionQuery = None,
    source: SourceQuery = None,
) -> Timeline:
    """Roles: officer, admin, comms. Points are zero-filled, one per step from `from` to `to`."""
    _known(brand, [b.name for b in settings.brands])
    window = settings.reputation.window_seconds
    step = step or window
    if step % window:
        raise BadRequest(f"step: {step} s is not a multiple of the window length {window} s (e.g. {window})")
    first, last = _range(start, end, window)
    count = -(-(last - first) // step)
    if count > MAX_POINTS:
        raise BadRequest(f"step: {count} points requested, at most {MAX_POINTS}; use a larger step or range")
    volume = [0] * count
    scored = [0] * count
    negatives = [0] * count
    compound = [0.0] * count
    for row in store.windows(brand, first, last, jurisdiction.upper() if jurisdiction else None, source):
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
    return Timeline(brand=brand, start=datetime.fromtimestamp(first, UTC), end=end.astimezone(UTC),
                    step=step, jurisdiction=jurisdiction.upper() if jurisdiction else None, source=source,
                    points=points)
