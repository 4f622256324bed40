"""The store's cases, legal holds and exports (rules in :mod:`alerts.cases` and
:mod:`alerts.case_export`): part of :class:`alerts.store.SqlAlertStore`, kept in its own module so
the store's front stays readable. Every change is audited in its own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection

from alerts import cases
from alerts.audit import Actor, AuditEntry
from alerts.case_export import Export
from alerts.cases import Case, CaseNote, CaseStatus
from alerts.lifecycle import check_justification
from alerts.sql import case_export as export_repo
from alerts.sql import cases as case_repo


class CaseMethods:
    """Mixed into :class:`alerts.store.SqlAlertStore`, which provides the two transactions."""

    def _reading(self, operation: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _audited(self, operation: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def create_case(self, title: str, owner: str, by: Actor) -> Case:
        cases.check_title(title)
        cases.check_owner(owner)
        with self._audited("create_case") as connection:
            return case_repo.create(connection, title, owner, by)

    def list_cases(self, *, status: CaseStatus | None = None, held: bool | None = None) -> list[Case]:
        """Most recently changed first, with their item counts (not their items or notes)."""
        with self._reading("list_cases") as connection:
            return case_repo.list_all(connection, status=status, held=held)

    def get_case(self, case_id: str) -> Case:
        """With items and notes; raises :class:`alerts.cases.CaseNotFound`."""
        with self._reading("get_case") as connection:
            return case_repo.get(connection, case_id)

    def update_case(
        self,
        case_id: str,
        by: Actor,
        *,
        title: str | None = None,
        owner: str | None = None,
        status: CaseStatus | None = None,
    ) -> Case:
        if title is not None:
            cases.check_title(title)
        if owner is not None:
            cases.check_owner(owner)
        with self._audited("update_case") as connection:
            return case_repo.update(connection, case_id, by, title=title, owner=owner, status=status)

    def add_case_items(self, case_id: str, alert_ids: list[str], by: Actor) -> list[str]:
        """The ids added; raises :class:`alerts.lifecycle.AlertNotFound` (nothing added) for an
        unknown alert."""
        cases.check_item_ids(alert_ids)
        with self._audited("add_case_items") as connection:
            return case_repo.add_items(connection, case_id, alert_ids, by)

    def remove_case_items(self, case_id: str, alert_ids: list[str], by: Actor) -> list[str]:
        """The ids removed; refused while the case is under legal hold."""
        cases.check_item_ids(alert_ids)
        with self._audited("remove_case_items") as connection:
            return case_repo.remove_items(connection, case_id, alert_ids, by)

    def add_case_note(self, case_id: str, body: str, by: Actor) -> CaseNote:
        cases.check_note(body)
        with self._audited("add_case_note") as connection:
            return case_repo.add_note(connection, case_id, body, by)

    def hold_case(self, case_id: str, reason: str, by: Actor) -> Case:
        """Place a legal hold: retention keeps every item of the case until :meth:`release_case`."""
        cases.check_hold_reason(reason)
        with self._audited("hold_case") as connection:
            return case_repo.hold(connection, case_id, reason, by)

    def release_case(self, case_id: str, reason: str, by: Actor) -> Case:
        cases.check_hold_reason(reason)
        with self._audited("release_case") as connection:
            return case_repo.release(connection, case_id, reason, by)

    def held_alert_ids(self, alert_ids: Iterable[str]) -> set[str]:
        """The ids among ``alert_ids`` under a legal hold: erasure and retention must leave them."""
        with self._reading("held_alert_ids") as connection:
            return case_repo.held_alert_ids(connection, alert_ids)

    def export_case(self, case_id: str, by: Actor, *, justification: str | None = None) -> Export:
        """The case as a zip (see :mod:`alerts.case_export`), audited with the manifest's SHA-256.

        Evidence is masked; with a ``justification``, every item's personal-data spans are revealed
        and each reveal is audited with it, as a reviewer's reveal of one alert is.
        """
        if justification is not None:
            check_justification(justification)
        with self._audited("export_case") as connection:
            return export_repo.export(connection, case_id, by, justification)

    def export_entries(self, manifest_sha256: str, *, case_id: str | None = None) -> list[AuditEntry]:
        """The audit entries of the exports whose manifest has this SHA-256."""
        with self._reading("export_entries") as connection:
            return export_repo.export_entries(connection, manifest_sha256, case_id)


__all__ = ["CaseMethods"]
