"""The store's supervision (FINRA Rule 3110): second-level decisions on closures awaiting approval and
QA draws (rules in :mod:`alerts.levels`), and the report a principal signs (rules in
:mod:`alerts.supervision`). Part of :class:`alerts.store.SqlAlertStore`, kept in its own module so the
store's front stays readable; every change is audited in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from alerts import lifecycle
from alerts.audit import Actor
from alerts.model import Alert, QaStatus
from alerts.sql import review as review_repo
from alerts.sql import supervision as supervision_repo
from alerts.supervision import SupervisionReport, build_report


class SupervisionMethods:
    """Mixed into :class:`alerts.store.SqlAlertStore`, which provides the two transactions."""

    def _reading(self, operation: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _audited(self, operation: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def decide_approval(
        self,
        alert_id: str,
        approve: bool,
        by: Actor,
        reason: str | None = None,
        *,
        comment: str | None = None,
    ) -> Alert:
        """Approve (closed with the requested verdict) or reject (back to in_review; ``reason``
        required) a closure awaiting approval; ``by`` must be second level and not its requester."""
        if comment is not None:
            lifecycle.check_text("comment", comment, lifecycle.MAX_COMMENT_CHARS, required=True)
        with self._audited("decide_approval") as connection:
            return review_repo.decide(connection, alert_id, approve, by, reason, comment)

    def record_qa(self, alert_id: str, outcome: QaStatus, by: Actor, *, comment: str | None = None) -> Alert:
        """A second-level reviewer's QA outcome (agree, or disagree with a comment) on a closure drawn
        for QA; recorded once."""
        with self._audited("record_qa") as connection:
            return review_repo.record_qa(connection, alert_id, outcome, comment, by)

    def supervision_report(
        self, start: datetime, end: datetime, *, as_of: datetime | None = None,
        populations: Sequence[str] | None = None,
    ) -> SupervisionReport:
        """Per sampling population: items sampled and alerts stored in ``[start, end)``, reviewed by a
        person or pending at ``as_of`` (default now), by reviewer, median time to review (rules in
        :mod:`alerts.supervision`); raises ValueError unless ``start < end``."""
        if start >= end:
            raise ValueError(f"the period is empty: from ({start.isoformat()}) must be earlier than to "
                             f"({end.isoformat()})")
        as_of = as_of or datetime.now(UTC)
        with self._reading("supervision_report") as connection:
            items = supervision_repo.reviewed_items(connection, start, end, as_of)
        return build_report(items, start=start, end=end, as_of=as_of, populations=populations)
