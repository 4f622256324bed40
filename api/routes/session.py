"""Who the caller is: the console shows the token's name and role and the pages that role may use."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from alerts.tokens import Role
from api.deps import SignedInDep
from api.schemas import guarded_responses

router = APIRouter(tags=["session"], responses=guarded_responses("never: every role may call it"))


class Me(BaseModel):
    name: str = Field(description="the token's name, as the audit log records it")
    role: Role


@router.get("/me", response_model=Me, summary="The calling token's name and role (any role)")
def me(actor: SignedInDep) -> Me:
    return Me(name=actor.name, role=Role(actor.role))
