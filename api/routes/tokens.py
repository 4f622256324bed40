"""API tokens over HTTP (admin only): list, create (the token is shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from alerts.tokens import ApiToken, Role, TokenError, expiry
from api.deps import AdminDep, SettingsDep, StoreDep
from api.schemas import ErrorMessage, guarded_responses

router = APIRouter(
    prefix="/tokens",
    tags=["tokens"],
    responses=guarded_responses("only admin tokens may manage tokens"),
)


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "comms-dashboard", "role": "comms", "expires_in_days": 90}]},
    )

    name: str = Field(min_length=1, max_length=100, description="who or what uses it; shown in the audit log")
    role: Role
    expires_in_days: int | None = Field(
        default=None, ge=0, le=3650,
        description="omitted or null: VEILLE_TOKEN_EXPIRY_DAYS (90 by default); 0: never expires, for a "
        "service account (an explicit choice, recorded in the audit log)",
    )


class CreatedToken(BaseModel):
    token: str = Field(description="the credential: shown only in this answer, only its hash is stored")
    record: ApiToken


@router.get("", response_model=list[ApiToken], summary="Every token, never the secret")
def list_tokens(store: StoreDep, actor: AdminDep) -> list[ApiToken]:
    return store.list_tokens()


@router.post(
    "",
    response_model=CreatedToken,
    status_code=201,
    summary="Create a token",
    responses={409: {"model": ErrorMessage, "description": "the name is taken or not allowed"}},
)
def create_token(body: TokenRequest, store: StoreDep, actor: AdminDep, settings: SettingsDep) -> CreatedToken:
    days = settings.token_expiry_days if body.expires_in_days is None else body.expires_in_days
    try:
        record, token = store.create_token(body.name, body.role, actor, expires_at=expiry(days))
    except TokenError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return CreatedToken(token=token, record=record)


@router.delete(
    "/{token_id}",
    response_model=ApiToken,
    summary="Revoke a token (by id or name)",
    responses={404: {"model": ErrorMessage, "description": "no such token"}},
)
def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=100)], store: StoreDep, actor: AdminDep
) -> ApiToken:
    try:
        return store.revoke_token(token_id, actor)
    except TokenError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
