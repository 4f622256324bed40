"""E-reputation for communications (readers: every role but ops): a brand's sentiment and volume over time.

Only aggregates leave these routes (see :mod:`api.services.brands`): counts, means and frequent
words, never a post, an author or a text.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import BrandReportsDep, ReaderDep, WindowQueryDep
from api.schemas import ErrorMessage, guarded_responses
from api.services.brands import ShareOfVoice, Themes, Timeline

router = APIRouter(
    prefix="/brands",
    tags=["e-reputation"],
    responses=guarded_responses("the token's role may not call this route"),
)

_UNKNOWN_BRAND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorMessage, "description": "the brand is not configured"}
}


@router.get(
    "/share-of-voice",
    response_model=ShareOfVoice,
    summary="How the configured brands share the mentions over a time range",
    responses={400: {"model": ErrorMessage, "description": "bad time range"}},
)
def share_of_voice(reports: BrandReportsDep, _actor: ReaderDep, query: WindowQueryDep) -> ShareOfVoice:
    """Roles: every role but ops. Every configured brand is listed, in configuration order."""
    return reports.share_of_voice(query)


@router.get(
    "/{brand}/themes",
    response_model=Themes,
    summary="The most frequent words in negative posts about one brand",
    responses={400: {"model": ErrorMessage, "description": "bad time range"}, **_UNKNOWN_BRAND},
)
def brand_themes(
    brand: str,
    reports: BrandReportsDep,
    _actor: ReaderDep,
    query: WindowQueryDep,
    limit: Annotated[int, Query(ge=1, le=100, description="words returned, most frequent first")] = 20,
) -> Themes:
    """Roles: every role but ops. Words only: no post, author, handle, number or address."""
    return reports.themes(brand, query, limit)


@router.get(
    "/{brand}/timeline",
    response_model=Timeline,
    summary="Sentiment and volume of one brand over time",
    responses={400: {"model": ErrorMessage, "description": "bad time range or step"}, **_UNKNOWN_BRAND},
)
def brand_timeline(
    brand: str,
    reports: BrandReportsDep,
    _actor: ReaderDep,
    query: WindowQueryDep,
    step: Annotated[int | None, Query(gt=0, description="seconds per point; default: the window")] = None,
) -> Timeline:
    """Roles: every role but ops. Points are zero-filled, one per step from `from` to `to`."""
    return reports.timeline(brand, query, step)
