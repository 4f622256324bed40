"""Where alerts live: SQLite by default, PostgreSQL in production, one schema managed by Alembic.

:class:`SqlAlertStore` is the front: it checks arguments against the pure rules, opens the
connection or transaction, and hands it to the repositories in :mod:`alerts.sql`. Every audited
change takes the audit lock first and appends its entry in the same transaction.

Writes are idempotent on ``Alert.id`` (a replayed Kafka record never duplicates an alert), so the
worker may commit offsets only after :meth:`AlertStore.add_many` returned.

Two parts of the audit log live in the process as well as in the database (:class:`AuditOptions`):
repeated views of an alert are counted in memory and written as one entry per window
(:mod:`alerts.views`), and the chain's head is checkpointed to an anchor file (:mod:`alerts.anchor`).
Whoever runs the store calls :meth:`SqlAlertStore.flush_audit` now and then (the API, every second)
and :meth:`SqlAlertStore.close` at the end, which writes what is still pending.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Connection, Engine

from alerts import lifecycle, tokens
from alerts.anchor import AuditAnchor
from alerts.audit import Actor, Anchor, AuditEntry, ChainHead
from alerts.levels import QaSampling
from alerts.model import Alert, AlertStatus, Verdict
from alerts.query import AlertQuery, Change, Page, Position
from alerts.retention import RetentionPolicy, RetentionReport
from alerts.silences import Silence, SilenceRequest
from alerts.sql import alerts as alert_repo
from alerts.sql import analytics as analytics_repo
from alerts.sql import audit as audit_repo
from alerts.sql import retention as retention_repo
from alerts.sql import review as review_repo
from alerts.sql import silences as silence_repo
from alerts.sql import tokens as token_repo
from alerts.sql.engine import (
    StoreDataError,
    StoreError,
    StoreUnavailable,
    open_engine,
    ping_engine,
    reading,
    writing,
)
from alerts.store_cases import CaseMethods
from alerts.store_privacy import PrivacyMethods
from alerts.store_supervision import SupervisionMethods
from alerts.tokens import ApiToken, Role
from alerts.views import ViewWindows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditOptions:
    """What the store does for its audit log beyond the chain (settings ``VEILLE_AUDIT_*``)."""

    anchor_file: Path | None = None  # None: no checkpoints written
    anchor_every_entries: int = 100
    anchor_every_seconds: float = 60.0
    view_window: timedelta = timedelta(minutes=10)  # zero: one entry per view


class AlertStore(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> list[str]:
        """Insert alerts in one transaction; returns the ids that were not stored before."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...

    def query(self, q: AlertQuery) -> Page[Alert]: ...

    def count(self, q: AlertQuery) -> int: ...

    def count_open_by_severity(self) -> dict[str, int]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class SqlAlertStore(CaseMethods, PrivacyMethods, SupervisionMethods):
    """:class:`AlertStore` on SQLAlchemy Core; safe to share between threads of one process.

    Cases, legal holds and exports are in :class:`alerts.store_cases.CaseMethods`."""

    def __init__(
        self,
        engine: Engine,
        *,
        group_window: timedelta | None = None,
        audit: AuditOptions | None = None,
        qa: QaSampling | None = None,
    ) -> None:
        self._engine = engine
        # Which first-level closures are drawn for QA (alerts.levels); none unless configured.
        self._qa = qa or QaSampling()
        # None or zero: every hit is its own alert (grouping off).
        self._group_window = group_window if group_window and group_window > timedelta(0) else None
        audit = audit or AuditOptions()
        self._views = ViewWindows(audit.view_window)
        self._anchor = (
            AuditAnchor(
                audit.anchor_file,
                every_entries=audit.anchor_every_entries,
                every_seconds=audit.anchor_every_seconds,
            )
            if audit.anchor_file is not None
            else None
        )

    @property
    def engine(self) -> Engine:
        """Shared with the stores of the same database's other tables (e-reputation windows)."""
        return self._engine

    @classmethod
    def open(
        cls,
        url: str,
        *,
        group_window: timedelta | None = None,
        audit: AuditOptions | None = None,
        qa: QaSampling | None = None,
    ) -> SqlAlertStore:
        """Connect to ``url`` and upgrade its schema to the newest revision (see
        :func:`alerts.sql.engine.open_engine`).

        ``group_window``: hits of one rule by one author whose posts are that close in time become
        one alert (``occurrences`` counts them); None keeps one alert per hit. ``audit``: view
        aggregation and anchoring (defaults: 10-minute view windows, no anchor file); raises
        :class:`alerts.anchor.AnchorFileError` when the anchor file cannot be opened for appending.
        ``qa``: the QA sample of first-level closures (default: none).
        """
        engine = open_engine(url)
        try:
            return cls(engine, group_window=group_window, audit=audit, qa=qa)
        except BaseException:
            engine.dispose()
            raise

    def _reading(self, operation: str) -> AbstractContextManager[Connection]:
        return reading(self._engine, operation)

    @contextmanager
    def _audited(self, operation: str) -> Iterator[Connection]:
        with writing(self._engine, operation) as connection:
            audit_repo.lock(connection)
            yield connection
            # Read under the audit lock: exactly this transaction's head, anchored once committed.
            head = audit_repo.head(connection) if self._anchor is not None else None
        if self._anchor is not None and head is not None:
            self._anchor.observe(head)

    # --- alerts ---

    def add_many(self, alerts: Sequence[Alert]) -> list[str]:
        """Store the hits in one transaction; returns the ids (``Alert.id``, one per hit) not stored
        before, whether the hit became an alert or an occurrence of a grouped one.

        A hit matching an active silence is stored all the same, with ``silenced`` set. New alerts that
        are not silenced are queued for the sinks in the same transaction (:mod:`alerts.outbox`).
        Characters the database cannot hold are replaced first (see :mod:`alerts.sql.values`); values
        it still refuses raise :class:`StoreDataError`, and nothing of the call is stored.
        """
        if not alerts:
            return []
        with writing(self._engine, "add_many") as connection:
            return alert_repo.add_many(connection, alerts, datetime.now(UTC), self._group_window)

    def occurrences(self, alert_id: str) -> list[dict[str, Any]]:
        """The hits grouped into ``alert_id`` (its own first), oldest post first."""
        with self._reading("occurrences") as connection:
            return alert_repo.occurrences(connection, alert_id)

    def get(self, alert_id: str) -> Alert | None:
        with self._reading("get") as connection:
            return alert_repo.get(connection, alert_id)

    def query(self, q: AlertQuery) -> Page[Alert]:
        """Newest first; raises :class:`alerts.query.InvalidCursor` for a cursor it did not issue."""
        with self._reading("query") as connection:
            return alert_repo.query(connection, q)

    def changes_after(self, after: Position, *, limit: int = 500) -> list[Change]:
        """The next ``limit`` changes (an alert stored, reviewed, grouped into or anonymised) after
        position ``after``, oldest first; page on with the last one's position."""
        with self._reading("changes_after") as connection:
            return alert_repo.changes_after(connection, after, limit)

    def unseen_changes(
        self, after: Position, before: Position, seen: Container[Position], *, limit: int = 5000
    ) -> list[Change]:
        """Changes between the positions ``after`` and ``before`` that are not in ``seen``: writers
        stamp a change before they commit it, so one may become visible behind a reader's position."""
        with self._reading("unseen_changes") as connection:
            return alert_repo.unseen_changes(connection, after, before, seen, limit)

    def count(self, q: AlertQuery) -> int:
        with self._reading("count") as connection:
            return alert_repo.count(connection, q)

    def count_open_by_severity(self) -> dict[str, int]:
        """Every severity as a key (zero when none are open), so a gauge never loses a series."""
        with self._reading("count_open_by_severity") as connection:
            return alert_repo.count_open_by_severity(connection)

    # --- review lifecycle (rules in alerts.lifecycle) ---

    def transition(
        self,
        alert_id: str,
        to: AlertStatus,
        by: Actor,
        reason: str | None = None,
        *,
        verdict: Verdict | None = None,
        ticket: str | None = None,
        comment: str | None = None,
    ) -> Alert:
        """Move one alert to ``to`` (and add ``comment``, in the same transaction); raises
        :class:`alerts.lifecycle.IllegalTransition` (with the allowed statuses),
        :class:`LifecycleError`, :class:`AlertNotFound`, or :class:`alerts.levels.NotPermitted` when
        ``by``'s review level may not. A close that needs a second reviewer's approval returns the
        alert in ``pending_approval`` (:mod:`alerts.levels`)."""
        if comment is not None:
            lifecycle.check_text("comment", comment, lifecycle.MAX_COMMENT_CHARS, required=True)
        with self._audited("transition") as connection:
            return review_repo.transition(
                connection, alert_id, to, by, reason,
                verdict=verdict, ticket=ticket, comment=comment, qa=self._qa,
            )

    def assign(self, alert_id: str, assignee: str | None, by: Actor) -> Alert:
        """Give the alert to ``assignee`` (a reviewer's name), or unassign it with None."""
        _check_assignee(assignee)
        with self._audited("assign") as connection:
            return review_repo.assign(connection, alert_id, assignee, by)

    def comment(self, alert_id: str, body: str, by: Actor) -> dict[str, Any]:
        lifecycle.check_text("body", body, lifecycle.MAX_COMMENT_CHARS, required=True)
        with self._audited("comment") as connection:
            return review_repo.comment(connection, alert_id, body, by)

    def comments(self, alert_id: str) -> list[dict[str, Any]]:
        with self._reading("comments") as connection:
            return review_repo.comments(connection, alert_id)

    def bulk_transition(
        self,
        q: AlertQuery,
        to: AlertStatus,
        by: Actor,
        reason: str | None = None,
        *,
        verdict: Verdict | None = None,
        ticket: str | None = None,
        comment: str | None = None,
    ) -> tuple[list[Alert], dict[str, str]]:
        """Apply one transition to every alert matching ``q`` (not its cursor or limit), all or none
        stored in one transaction; returns ``(changed alerts as they are now, {skipped id: why})``:
        a close needing approval changed the alert to ``pending_approval``."""
        with self._audited("bulk_transition") as connection:
            return review_repo.bulk_transition(
                connection, q, to, by, reason, verdict=verdict, ticket=ticket, comment=comment, qa=self._qa
            )

    def bulk_assign(self, q: AlertQuery, assignee: str | None, by: Actor) -> tuple[list[str], dict[str, str]]:
        """``(changed ids, {skipped id: why})``: what ``by``'s review level may not assign is skipped."""
        _check_assignee(assignee)
        with self._audited("bulk_assign") as connection:
            return review_repo.bulk_assign(connection, q, assignee, by)

    def reveal(
        self, alert_id: str, justification: str, by: Actor, *, index: int | None = None
    ) -> list[dict[str, Any]]:
        """The raw personal-data spans of one alert (or only evidence ``index``), audited with the
        justification; raises :class:`LifecycleError` for a blank justification or a bad index."""
        lifecycle.check_justification(justification)
        with self._audited("reveal") as connection:
            return review_repo.reveal(connection, alert_id, justification, by, index)

    # --- audit log (chain rules in alerts.audit) ---

    def record_view(self, alert_id: str, by: Actor) -> None:
        """Account for "``by`` viewed the evidence of ``alert_id``": written at once for the first view
        in a window, counted for a repeat (see :mod:`alerts.views`)."""
        due = self._views.view(alert_id, by, datetime.now(UTC))
        if due:
            with self._audited("record_view") as connection:
                review_repo.record_views(connection, due)

    def flush_audit(self, *, final: bool = False) -> None:
        """Write the view counts whose window closed (every one when ``final``) and, when due, a
        checkpoint of the chain's head to the anchor file."""
        now = datetime.now(UTC)
        due = self._views.drain(now) if final else self._views.closed(now)
        if due:
            with self._audited("record_views") as connection:
                review_repo.record_views(connection, due)
        if self._anchor is not None and (final or self._anchor.timer_due()):
            self._anchor.checkpoint(self.audit_head())

    def audit_head(self) -> ChainHead:
        """The newest audit entry's sequence number and hash, for an operator to record."""
        with self._reading("audit_head") as connection:
            return audit_repo.head(connection)

    def audit_entries(
        self, *, target: str | None = None, after_seq: int = 0, limit: int | None = 100
    ) -> list[AuditEntry]:
        """Oldest first, from ``after_seq`` on (pagination by sequence number)."""
        with self._reading("audit_entries") as connection:
            return audit_repo.entries(connection, target=target, after_seq=after_seq, limit=limit)

    def verify_audit(self, anchors: Iterable[Anchor] = ()) -> ChainHead:
        """The verified head (its ``seq`` counts the entries); raises :class:`alerts.audit.ChainBroken`
        naming the first bad entry, :class:`alerts.audit.ChainTruncated` when the log ends before one
        of the ``anchors``."""
        with self._reading("verify_audit") as connection:
            return audit_repo.verify(connection, anchors)

    # --- API tokens (format and hashing in alerts.tokens) ---

    def create_token(
        self,
        name: str,
        role: Role,
        by: Actor,
        *,
        expires_at: datetime | None = None,
        token: str | None = None,
    ) -> tuple[ApiToken, str]:
        """``(stored token, the token itself)``: the caller shows the token once; only its hash is kept.

        ``token`` installs a given token (the bootstrap admin token) instead of a random one.
        """
        tokens.check_name(name)
        token_id, token = tokens.new_token() if token is None else tokens.token_from_secret(token)
        with self._audited("create_token") as connection:
            record = token_repo.create(connection, token_id, token, name, role, by, expires_at)
        return record, token

    def ensure_token(
        self, name: str, role: Role, token: str, by: Actor, *, expires_at: datetime | None = None
    ) -> ApiToken:
        """Install ``token`` under ``name`` unless that exact token is already stored (idempotent:
        a stored token keeps its expiry)."""
        existing = self.authenticate(token)
        if existing is not None:
            return existing
        return self.create_token(name, role, by, token=token, expires_at=expires_at)[0]

    def list_tokens(self) -> list[ApiToken]:
        with self._reading("list_tokens") as connection:
            return token_repo.list_all(connection)

    def revoke_token(self, name_or_id: str, by: Actor) -> ApiToken:
        with self._audited("revoke_token") as connection:
            return token_repo.revoke(connection, name_or_id, by)

    def authenticate(self, token: str) -> ApiToken | None:
        """The stored token for ``token`` (even if revoked or expired: the caller checks), else None."""
        token_id = tokens.parse(token)
        if token_id is None:
            return None
        with self._reading("authenticate") as connection:
            return token_repo.authenticate(connection, token_id, token)

    # --- silences (rules in alerts.silences) ---

    def create_silence(self, request: SilenceRequest, by: Actor) -> Silence:
        with self._audited("create_silence") as connection:
            return silence_repo.create(connection, request, by)

    def list_silences(self, *, active_only: bool = True) -> list[Silence]:
        with self._reading("list_silences") as connection:
            return silence_repo.list_all(connection, active_only=active_only)

    def expire_silence(self, silence_id: str, by: Actor) -> Silence:
        """End a silence now (kept in the list with its new expiry, for the record)."""
        with self._audited("expire_silence") as connection:
            return silence_repo.expire(connection, silence_id, by)

    # --- retention (rules in alerts.retention) ---

    def apply_retention(
        self, policy: RetentionPolicy, by: Actor, *, now: datetime | None = None, dry_run: bool = False
    ) -> RetentionReport:
        """Anonymise or delete closed alerts past their jurisdiction's age, in one transaction,
        one audit entry per alert; an alert already anonymised is not counted again, and the items
        of a case under legal hold are kept (and counted in the report)."""
        now = now or datetime.now(UTC)
        due = retention_repo.due(policy, now)
        if due is None:
            return RetentionReport(mode=policy.mode, dry_run=dry_run)
        with self._audited("apply_retention") as connection:
            return retention_repo.apply(connection, due, policy, by, now, dry_run)

    # --- analytics (counts only: no content, so the ops role may read them) ---

    def count_by(self, field: str, q: AlertQuery) -> dict[str, int]:
        """Alerts matching ``q`` (cursor and limit ignored) per value of one column."""
        with self._reading("count_by") as connection:
            return analytics_repo.count_by(connection, field, q)

    def count_over_time(self, field: str, bucket: str, q: AlertQuery) -> dict[datetime, dict[str, int]]:
        """Alerts matching ``q`` per ``bucket`` ("hour" or "day", UTC, by ``created_at``) and value."""
        with self._reading("count_over_time") as connection:
            return analytics_repo.count_over_time(connection, field, bucket, q)

    def review_durations(self, q: AlertQuery) -> dict[str, list[float]]:
        """Seconds from creation to acknowledgement, and to closing, of the alerts matching ``q``."""
        with self._reading("review_durations") as connection:
            return analytics_repo.review_durations(connection, q)

    def oldest_open_by_severity(self) -> dict[str, datetime]:
        """``created_at`` of the oldest item not closed (nor silenced), per severity that has one."""
        with self._reading("oldest_open_by_severity") as connection:
            return analytics_repo.oldest_open_by_severity(connection)

    def close_time_buckets(self, buckets: tuple[float, ...]) -> dict[str, tuple[list[int], int, float]]:
        """Per severity: cumulative counts of closed items by seconds to close, count, sum of seconds."""
        with self._reading("close_time_buckets") as connection:
            return analytics_repo.close_time_buckets(connection, buckets)

    def precision_by_rule(self, q: AlertQuery) -> dict[str, dict[str, int]]:
        """Per rule: alerts closed with a verdict, and how many of each verdict."""
        with self._reading("precision_by_rule") as connection:
            return analytics_repo.precision_by_rule(connection, q)

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers a trivial query."""
        ping_engine(self._engine)

    def close(self) -> None:
        """Write the pending view counts and the last checkpoint, then release the connections."""
        try:
            self.flush_audit(final=True)
        except StoreError as exc:
            # Closing goes on (it runs in finally blocks); the first views were written already.
            log.error("pending audit view counts or checkpoint not written at close: %s", exc)
        finally:
            self._engine.dispose()


def _check_assignee(assignee: str | None) -> None:
    if assignee is not None:
        lifecycle.check_text("assignee", assignee, lifecycle.MAX_NAME_CHARS, required=True)


if TYPE_CHECKING:

    def _conforms(store: SqlAlertStore) -> AlertStore:
        return store


# StoreError and its subclasses are what callers catch around any store call: StoreUnavailable (retry
# later) and StoreDataError (these values are refused; others may not be).
__all__ = ["AlertStore", "AuditOptions", "SqlAlertStore", "StoreDataError", "StoreError", "StoreUnavailable"]
