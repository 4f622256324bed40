"""The store's privacy requests (rules in :mod:`alerts.privacy` and :mod:`alerts.subjects`): author
reveals and data subjects' access and erasure. Part of :class:`alerts.store.SqlAlertStore`, kept in its
own module so the store's front stays readable; every change is audited in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from alerts import lifecycle
from alerts.audit import Actor
from alerts.sql import privacy as privacy_repo
from alerts.sql import subjects as subject_repo
from alerts.subjects import Decision


class PrivacyMethods:
    """Mixed into :class:`alerts.store.SqlAlertStore`, which provides the two transactions."""

    def _reading(self, operation: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _audited(self, operation: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def reveal_author(
        self, alert_id: str, justification: str, by: Actor, *, approval_required: bool = False,
        request_id: int | None = None,
    ) -> dict[str, Any]:
        """A pseudonymised author's id, audited with the justification; with ``approval_required``, a
        first call records a request a second person approves (``approve_author_reveal``), and the
        requester then calls again with its ``request_id`` (rules in :mod:`alerts.privacy`)."""
        lifecycle.check_justification(justification)
        with self._audited("reveal_author") as connection:
            return privacy_repo.reveal_author(
                connection, alert_id, justification, by, approval_required=approval_required,
                request_id=request_id,
            )

    def approve_author_reveal(self, alert_id: str, request_id: int, by: Actor) -> None:
        with self._audited("approve_author_reveal") as connection:
            privacy_repo.approve_author_reveal(connection, alert_id, request_id, by)

    # --- data subjects' requests (rules in alerts.subjects) ---

    def subject_items(self, author_ids: Sequence[str]) -> dict[str, Any]:
        """Every alert (samples included), comment and audit entry about these author ids."""
        with self._reading("subject_items") as connection:
            return subject_repo.find(connection, author_ids)

    def erase_subject(self, decisions: Sequence[Decision], reason: str, by: Actor) -> None:
        """Anonymise the alerts ``decisions`` allow, auditing each decision and the request."""
        lifecycle.check_justification(reason)
        with self._audited("erase_subject") as connection:
            subject_repo.erase(connection, decisions, reason, by, datetime.now(UTC))
