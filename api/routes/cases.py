"""Cases, legal holds and exports for counsel (rules in :mod:`alerts.cases`, packaging in
:mod:`alerts.case_export`), every change audited by the store.

Anyone who works the queue (``REVIEWERS``) may build a case; placing or releasing a legal hold and
exporting for counsel are second-level acts (``SUPERVISORS``: principal, officer, admin), as the
responsibility a principal cannot delegate (FINRA 3110.08).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from alerts.cases import MAX_CASE_ITEMS, MAX_TITLE_CHARS, Case, CaseNote, CaseStatus
from alerts.lifecycle import MAX_COMMENT_CHARS, MAX_NAME_CHARS
from api.deps import AlertId, ReviewerDep, StoreDep, SupervisorDep
from api.schemas import STORE_UNAVAILABLE, ErrorMessage, guarded_responses

router = APIRouter(
    tags=["cases"],
    responses={
        **guarded_responses("only officer and admin tokens may work cases"),
        404: {"model": ErrorMessage, "description": "no case (or no alert) with this id"},
        422: {"model": ErrorMessage, "description": "the request breaks a case rule (the detail says which)"},
        503: STORE_UNAVAILABLE,
    },
)

CaseId = Annotated[str, Path(min_length=1, max_length=32, description="the case's id")]
_Strict = ConfigDict(extra="forbid")


class CaseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"title": "Front-running Q1", "owner": "c.dupont"}]}
    )

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    owner: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


class CaseUpdate(BaseModel):
    model_config = _Strict

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_CHARS)
    owner: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    status: CaseStatus | None = Field(default=None, description="closing a case keeps its hold")


class CaseItems(BaseModel):
    model_config = _Strict

    alert_ids: list[str] = Field(min_length=1, max_length=MAX_CASE_ITEMS, description="alert or sample ids")


class ItemsChanged(BaseModel):
    changed: list[str] = Field(description="the ids added (or removed); those already so are left out")


class NoteCreate(BaseModel):
    model_config = _Strict

    body: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)


class HoldRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Litigation hold, matter 2026-17"}]}
    )

    reason: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS, description="recorded in the audit log")


class ExportRequest(BaseModel):
    model_config = _Strict

    reveal_justification: str | None = Field(
        default=None,
        max_length=MAX_COMMENT_CHARS,
        description="reveal the personal-data spans, each reveal audited with this; omit: masked",
    )


@router.get("/cases", response_model=list[Case], summary="List cases, most recently changed first")
def list_cases(
    store: StoreDep,
    actor: ReviewerDep,
    status: Annotated[CaseStatus | None, Query()] = None,
    held: Annotated[bool | None, Query(description="only cases with (true) or without a hold")] = None,
) -> list[Case]:
    return store.list_cases(status=status, held=held)


@router.post("/cases", response_model=Case, status_code=201, summary="Open a case")
def create_case(body: CaseCreate, store: StoreDep, actor: ReviewerDep) -> Case:
    return store.create_case(body.title, body.owner, actor)


@router.get("/cases/{case_id}", response_model=Case, summary="A case with its items, notes and hold")
def get_case(case_id: CaseId, store: StoreDep, actor: ReviewerDep) -> Case:
    return store.get_case(case_id)


@router.patch("/cases/{case_id}", response_model=Case, summary="Rename, reassign, close or reopen a case")
def update_case(case_id: CaseId, body: CaseUpdate, store: StoreDep, actor: ReviewerDep) -> Case:
    return store.update_case(case_id, actor, title=body.title, owner=body.owner, status=body.status)


@router.post("/cases/{case_id}/items", response_model=ItemsChanged, summary="Add alerts or samples")
def add_items(case_id: CaseId, body: CaseItems, store: StoreDep, actor: ReviewerDep) -> ItemsChanged:
    return ItemsChanged(changed=store.add_case_items(case_id, body.alert_ids, actor))


@router.delete(
    "/cases/{case_id}/items/{alert_id}", response_model=ItemsChanged,
    summary="Remove an item (refused under legal hold)",
)
def remove_item(case_id: CaseId, alert_id: AlertId, store: StoreDep, actor: ReviewerDep) -> ItemsChanged:
    return ItemsChanged(changed=store.remove_case_items(case_id, [alert_id], actor))


@router.post("/cases/{case_id}/notes", response_model=CaseNote, status_code=201, summary="Add a note")
def add_note(case_id: CaseId, body: NoteCreate, store: StoreDep, actor: ReviewerDep) -> CaseNote:
    return store.add_case_note(case_id, body.body, actor)


@router.post("/cases/{case_id}/hold", response_model=Case, summary="Place a legal hold")
def hold(case_id: CaseId, body: HoldRequest, store: StoreDep, actor: SupervisorDep) -> Case:
    return store.hold_case(case_id, body.reason, actor)


@router.post("/cases/{case_id}/release", response_model=Case, summary="Release a legal hold")
def release(case_id: CaseId, body: HoldRequest, store: StoreDep, actor: SupervisorDep) -> Case:
    return store.release_case(case_id, body.reason, actor)


_ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/zip": {}},
        "description": "the export; header X-Veille-Manifest-SHA256 is the hash the audit log records",
    }
}


@router.post("/cases/{case_id}/export", response_class=Response, responses=_ZIP, summary="Export a case")
def export_case(case_id: CaseId, body: ExportRequest, store: StoreDep, actor: SupervisorDep) -> Response:
    """The case as a zip for counsel or a regulator (manifest, CSV load file, one JSON per item),
    audited with the manifest's SHA-256; check it later with ``veille cases verify``."""
    result = store.export_case(case_id, actor, justification=body.reveal_justification)
    return Response(
        content=result.data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="case-{case_id}.zip"',
            "X-Veille-Manifest-SHA256": result.manifest_sha256,
        },
    )
