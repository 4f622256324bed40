"""The policy packs (reviewer, principal, officer, admin): browse them by jurisdiction, and try a
text against them.

Both come from :mod:`api.services.policies`, which explains with the engine behind
``veille policies explain``.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PolicyCatalogueDep, ReviewerDep
from api.schemas import ErrorMessage, guarded_responses
from api.services.policies import PolicyCatalog, TryRequest, TryResult

router = APIRouter(
    prefix="/policies",
    tags=["policies"],
    responses={
        **guarded_responses("only reviewer, principal, officer and admin tokens may read the policy packs"),
        503: {"model": ErrorMessage, "description": "the policy packs did not load"},
    },
)


@router.get("", response_model=PolicyCatalog, summary="Packs by jurisdiction, with every rule and its tests")
def catalog(catalogue: PolicyCatalogueDep, actor: ReviewerDep) -> PolicyCatalog:
    return catalogue.catalog()


@router.post("/try", response_model=TryResult, summary="Which rules a text would match, and why")
def try_text(body: TryRequest, catalogue: PolicyCatalogueDep, actor: ReviewerDep) -> TryResult:
    """Nothing is stored or logged: the text is detected on and evaluated, as a worker would, and the
    answer says which rules match (or were suppressed by an exception), with their clauses and spans."""
    return catalogue.try_text(body)
