"""Silences: list, create and expire (principal, officer, admin); every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from alerts.silences import Silence, SilenceRequest
from api.deps import StoreDep, SupervisorDep
from api.schemas import ErrorMessage, guarded_responses

router = APIRouter(
    prefix="/silences",
    tags=["silences"],
    responses=guarded_responses("only second-level tokens (principal, officer, admin) may use silences"),
)


@router.get("", response_model=list[Silence], summary="Silences, oldest first")
def list_silences(
    store: StoreDep,
    actor: SupervisorDep,
    include_expired: Annotated[bool, Query(description="also list silences that ended")] = False,
) -> list[Silence]:
    return store.list_silences(active_only=not include_expired)


@router.post("", response_model=Silence, status_code=201, summary="Create a silence")
def create_silence(body: SilenceRequest, store: StoreDep, actor: SupervisorDep) -> Silence:
    return store.create_silence(body, actor)


@router.delete(
    "/{silence_id}",
    response_model=Silence,
    summary="End a silence now",
    responses={404: {"model": ErrorMessage, "description": "no silence with this id"}},
)
def expire_silence(
    silence_id: Annotated[str, Path(min_length=1, max_length=32)], store: StoreDep, actor: SupervisorDep
) -> Silence:
    return store.expire_silence(silence_id, actor)
