"""The audit log, read-only: who viewed or changed what, and whether the chain is intact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from alerts.anchor import AnchorFileError, read_anchors
from alerts.audit import Anchor, AuditEntry, ChainBroken
from api.deps import AdminDep, SettingsDep, StoreDep, SupervisorDep
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
    broken_at: int | None = Field(
        default=None, description="sequence number of the first altered (or first missing) entry"
    )
    reason: str | None = None
    head: str | None = Field(
        default=None, description="SEQ:HASH of the verified newest entry: record it outside the database"
    )
    checkpoints: int = Field(default=0, description="checkpoints of VEILLE_AUDIT_ANCHOR_FILE checked")


@router.get("", response_model=AuditPage, summary="Audit entries, oldest first")
def list_audit(
    store: StoreDep,
    actor: SupervisorDep,
    target: Annotated[str | None, Query(max_length=200, description="e.g. alert:<id> or token:<id>")] = None,
    after: Annotated[int, Query(ge=0, description="sequence number to continue after")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    entries = store.audit_entries(target=target, after_seq=after, limit=limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(data=entries, next_after=entries[-1].seq if more else None)


@router.get("/verify", response_model=AuditVerification, summary="Check the hash chain (admin)")
def verify_audit(store: StoreDep, actor: AdminDep, settings: SettingsDep) -> AuditVerification:
    path = settings.audit_anchor_file
    anchors: list[Anchor] = []
    if path is not None and path.exists():
        try:
            anchors = read_anchors(path)
        except AnchorFileError as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from None
    try:
        head = store.verify_audit(anchors)
    except ChainBroken as exc:
        return AuditVerification(
            ok=False, entries=exc.seq - 1, broken_at=exc.seq, reason=exc.reason, checkpoints=len(anchors)
        )
    return AuditVerification(ok=True, entries=head.seq, head=str(head), checkpoints=len(anchors))
