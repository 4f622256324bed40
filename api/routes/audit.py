"""The audit log, read-only: who viewed or changed what, and whether the chain is intact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from alerts.audit import AuditEntry, ChainBroken
from api.deps import AdminDep, ReviewerDep, StoreDep
from api.schemas import guarded_responses

router = APIRouter(
    prefix="/audit",
    tags=["audit"],
    responses=guarded_responses("the token's role may not read the audit log"),
)


class AuditPage(BaseModel):
    data: list[AuditEntry]
    next_after: int | None = Field(
        description="pass it back as `after` for the next page; null on the last page"
    )


class AuditVerification(BaseModel):
    ok: bool
    entries: int = Field(description="entries checked (up to the first broken one)")
    broken_at: int | None = Field(default=None, description="sequence number of the first altered entry")
    reason: str | None = None


@router.get("", response_model=AuditPage, summary="Audit entries, oldest first")
def list_audit(
    store: StoreDep,
    actor: ReviewerDep,
    target: Annotated[str | None, Query(max_length=200, description="e.g. alert:<id> or token:<id>")] = None,
    after: Annotated[int, Query(ge=0, description="sequence number to continue after")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    entries = store.audit_entries(target=target, after_seq=after, limit=limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(data=entries, next_after=entries[-1].seq if more else None)


@router.get("/verify", response_model=AuditVerification, summary="Check the hash chain (admin)")
def verify_audit(store: StoreDep, actor: AdminDep) -> AuditVerification:
    try:
        count = store.verify_audit()
    except ChainBroken as exc:
        return AuditVerification(ok=False, entries=exc.seq - 1, broken_at=exc.seq, reason=exc.reason)
    return AuditVerification(ok=True, entries=count)
