"""Evidence of supervisory review (FINRA Rule 3110.07): the report a principal signs, per sampling
population (rules in :mod:`alerts.supervision`). Officer and admin; the principal role joins them when
review levels add it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from alerts.query import Instant
from alerts.supervision import SupervisionReport, to_csv
from api.deps import StoreDep, SupervisorDep
from api.errors import BadRequest
from api.schemas import STORE_UNAVAILABLE, ErrorMessage, guarded_responses

router = APIRouter(
    prefix="/supervision",
    tags=["supervision"],
    responses={**guarded_responses("the token's role may not read supervision reports"),
               503: STORE_UNAVAILABLE},
)


class ReportParams(BaseModel):
    """Unknown parameters are refused, so that a misspelt filter never widens the report."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Instant = Field(alias="from", description="start of the period, inclusive, ISO 8601 with timezone")
    to: Instant = Field(description="end of the period, exclusive, ISO 8601 with a timezone")
    as_of: Instant | None = Field(default=None, description="count reviews up to this instant; default now")
    population: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100, description="keep only these populations; repeatable"
    )
    format: Literal["json", "csv"] = "json"


@router.get(
    "/report",
    response_model=SupervisionReport,
    summary="Items sampled and alerts raised per population, reviewed or pending, by reviewer",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"},
        400: {"model": ErrorMessage, "description": "empty period"},
    },
)
def report(
    params: Annotated[ReportParams, Query()], store: StoreDep, actor: SupervisorDep
) -> SupervisionReport | Response:
    """An item is reviewed once a person recorded a transition (with any verdict) or a comment on it;
    opening it is not a review. Roles: officer, admin."""
    if params.from_ >= params.to:
        raise BadRequest(
            f"the period is empty: from ({params.from_.isoformat()}) must be earlier than to "
            f"({params.to.isoformat()})"
        )
    result = store.supervision_report(
        params.from_, params.to, as_of=params.as_of, populations=params.population or None
    )
    if params.format == "csv":
        return Response(content=to_csv(result), media_type="text/csv; charset=utf-8")
    return result
