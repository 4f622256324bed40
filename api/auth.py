"""Bearer-token authentication and the roles every route declares.

Each route states who may call it with a :class:`RoleGuard` dependency: one of the guards defined here
(``READERS``, ``REVIEWERS``, ``SUPERVISORS``, ...), taken through its alias in :mod:`api.deps`
(``ReaderDep``, ...), or
``Depends(PUBLIC)`` for routes anyone may call. A route without a guard is a bug, and
``tests/review/test_review_auth.py`` walks ``app.routes`` to catch one.

Open on purpose: ``/healthz`` and ``/readyz`` (orchestrators), ``/metrics`` (Prometheus scrapes
without credentials; it exposes counts, never content), the console page and its static files (the
page asks for a token and sends it on every API call), and FastAPI's OpenAPI document and docs.

What each role sees of an alert is decided here as well (:func:`visible_alert`): ``comms`` only gets
the alerts of rules whose pack lists communications in their ``audience`` (and the e-reputation
spikes and crises), with author and post ids pseudonymised, personal-data evidence removed and every
identifier in the remaining text masked (:func:`alerts.identifiers.mask_identifiers`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.audit import Actor
from alerts.identifiers import mask_excerpt, mask_identifiers
from alerts.levels import SECOND_LEVEL_ROLES
from alerts.model import Alert
from alerts.privacy import author_pseudonym, keyed_hash
from alerts.store import SqlAlertStore
from alerts.tokens import ApiToken, Role, TokenError, expiry, token_from_secret
from api.schemas import AlertPublic

log = logging.getLogger(__name__)

# Paths served outside FastAPI's routing (mounts, generated docs): open, listed so the matrix test
# can tell a deliberate exception from a forgotten guard.
PUBLIC_PATHS = frozenset({"/static", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
BOOTSTRAP_ACTOR = Actor(name="bootstrap", role=Role.ADMIN.value)

_bearer = HTTPBearer(auto_error=False, description="an API token from `veille tokens create`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=_CHALLENGE)


def get_store(request: Request) -> SqlAlertStore:
    """The alert store :func:`api.app.create_app` put on ``app.state``: tokens are checked against it,
    and routes take it as ``api.deps.StoreDep``."""
    store: SqlAlertStore = request.app.state.store
    return store


class RoleGuard:
    """Dependency that authenticates the caller and checks the role; returns the :class:`Actor`.

    ``roles=None`` is the public guard: no token needed, the dependency returns None.
    """

    def __init__(self, roles: frozenset[Role] | None) -> None:
        self.roles = roles

    def __repr__(self) -> str:
        return "PUBLIC" if self.roles is None else f"allow({', '.join(sorted(self.roles))})"

    def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Actor | None:
        if self.roles is None:
            return None
        if credentials is None:
            raise _unauthorized(
                "missing bearer token: send 'Authorization: Bearer <token>' "
                "(an admin creates one with `veille tokens create --role ... --name ...`)"
            )
        store = get_store(request)
        try:
            token = usable(store.authenticate(credentials.credentials))
        except TokenRefused as exc:
            raise _unauthorized(str(exc)) from None
        if token.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            path = request.url.path
            raise HTTPException(
                status_code=403,
                detail=f"role {token.role.value} may not call {request.method} {path}; "
                f"allowed roles: {allowed}",
            )
        return Actor(name=token.name, role=token.role.value)


PUBLIC = RoleGuard(None)


class TokenRefused(Exception):
    """The token may not call the API (now); the message is for the client."""


def usable(token: ApiToken | None, now: datetime | None = None) -> ApiToken:
    """``token`` (as :meth:`SqlAlertStore.authenticate` found it) if it may call the API now, else
    :class:`TokenRefused` saying why. Checked on every request, and on every poll of a stream, so that
    revoking or expiry takes effect at once."""
    if token is None:
        raise TokenRefused("the bearer token is not valid (unknown, mistyped or truncated)")
    if token.revoked_at is not None:
        raise TokenRefused(f"token {token.name!r} was revoked; ask an admin for a new one")
    if token.expires_at is not None and not token.usable(now):
        raise TokenRefused(f"token {token.name!r} expired at {token.expires_at.isoformat()}")
    return token


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's token itself, for a route that checks it again later (the alert stream). Declared
    after the route's guard, which refuses a request without one."""
    if credentials is None:
        raise _unauthorized("missing bearer token")
    return credentials.credentials


def allow(*roles: Role) -> RoleGuard:
    if not roles:
        raise ValueError("a guarded route needs at least one role; use PUBLIC for an open route")
    return RoleGuard(frozenset(roles))


READERS = allow(Role.OFFICER, Role.ADMIN, Role.COMMS, Role.REVIEWER, Role.PRINCIPAL)
# Who works the queue, first and second level; what each level may do to a given alert (escalated,
# awaiting approval, assigned to someone else) is decided by alerts.levels inside the store.
REVIEWERS = allow(Role.OFFICER, Role.ADMIN, Role.REVIEWER, Role.PRINCIPAL)
# The second level (alerts.levels.SECOND_LEVEL_ROLES): approvals, QA, silences, reveals, the audit
# log. Delegated review stays under a principal's responsibility (FINRA Rule 3110.08).
SUPERVISORS = allow(*SECOND_LEVEL_ROLES)
# Analytics are numbers only, never content: ops may read them, though not the alerts themselves;
# reviewers see the queue's counts by severity beside the queue they work.
ANALYSTS = allow(Role.OFFICER, Role.ADMIN, Role.OPS, Role.PRINCIPAL, Role.REVIEWER)
ADMINS = allow(Role.ADMIN)
# Any valid token: what a caller may learn about itself (its name and role), nothing else.
SIGNED_IN = allow(*Role)


def _guards(dependant: Dependant) -> Iterator[RoleGuard]:
    stack = [dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, RoleGuard):
            yield dependant.call
        stack.extend(dependant.dependencies)


@dataclass(frozen=True)
class DeclaredRoute:
    path: str
    methods: frozenset[str]
    roles: frozenset[Role] | None  # None: open to anyone


def route_table(app: FastAPI) -> list[DeclaredRoute]:
    """Every route of ``app`` (included routers flattened, prefixes applied) with its declared roles;
    raises LookupError for a route that declares none."""
    table = []
    for context in iter_route_contexts(app.routes):
        path = context.path or repr(context.original_route)
        if not isinstance(context.original_route, APIRoute):
            if path not in PUBLIC_PATHS:
                raise LookupError(f"{path} is served outside FastAPI routing and not listed in PUBLIC_PATHS")
            table.append(DeclaredRoute(path, frozenset({"GET"}), None))
            continue
        methods = frozenset(context.methods or ())
        # The effective dependant carries dependencies added by include_router(...) as well.
        guards = list(_guards(context.dependant))
        if len(guards) != 1:
            raise LookupError(
                f"{sorted(methods)} {path} declares {len(guards)} role guards; exactly one is needed"
            )
        table.append(DeclaredRoute(path, methods, guards[0].roles))
    return table


# --- what each role sees ---


class Pseudonymizer:
    """Stable, unlinkable pseudonyms: HMAC-SHA256 of an id under a secret key, one key per kind of id
    (derived from the one key), so an author and a post with the same id never share a pseudonym."""

    def __init__(self, key: bytes | None) -> None:
        if key is None:
            log.warning("VEILLE_PSEUDONYM_KEY is not set: pseudonyms change when the API restarts")
            key = secrets.token_bytes(32)
        self._key = key
        self._post_key = hmac.new(key, b"veille post pseudonym", hashlib.sha256).digest()

    def __call__(self, author_id: str) -> str:
        """The author's pseudonym (unchanged since authors were first pseudonymised)."""
        return author_pseudonym(self._key, author_id)

    def post(self, post_id: str) -> str:
        return "post-" + keyed_hash(self._post_key, post_id)


def comms_may_see(alert: Alert) -> bool:
    """Set from the rule's pack ``audience`` when the alert was made, stored in ``alerts.comms_visible``."""
    return alert.comms_visible


def visible_alert(alert: Alert, actor: Actor, pseudonymize: Pseudonymizer) -> AlertPublic:
    public = AlertPublic.from_alert(alert)
    if actor.role != Role.COMMS.value:
        # Officers of a pseudonymising jurisdiction (pack pseudonymise_authors) see who only after an
        # audited reveal (POST /alerts/{id}/reveal-author).
        if alert.author_pseudonymised:
            return public.model_copy(update={"author_id": pseudonymize(alert.author_id)})
        return public
    # Comms has no need for who exactly posted, which post it was, or any personal data: personal
    # evidence goes, and every free text left (post excerpts, clauses quoting the post, reviewers'
    # entries) loses its identifiers, flagged by a detector or not.
    return public.model_copy(
        update={
            "author_id": pseudonymize(alert.author_id),
            # A spike's "post id" names its window (brand, time): the console places it on the charts.
            "post_id": pseudonymize.post(alert.post_id) if alert.about_one_post else alert.post_id,
            "evidence": [
                e.model_copy(update={"snippet": mask_excerpt(e.snippet)})
                for e in public.evidence
                if not e.personal
            ],
            "explanation": [mask_identifiers(clause) for clause in public.explanation],
            "channel": mask_identifiers(public.channel),
            "assignee": _masked(public.assignee),
            "closed_by": _masked(public.closed_by),
            "approval_requested_by": _masked(public.approval_requested_by),
            "approval_ticket": _masked(public.approval_ticket),
            "ticket": _masked(public.ticket),
            "origin": {},
        }
    )


def _masked(text: str | None) -> str | None:
    return mask_identifiers(text) if text is not None else None


def install_bootstrap_token(store: SqlAlertStore, token: str, days: int) -> None:
    """Make ``token`` an admin token for ``days`` days from its first installation (idempotent;
    several API processes may race to do it). It is for a first setup or a demo: it expires."""
    try:
        token_id = store.ensure_token(
            _bootstrap_name(token), Role.ADMIN, token, BOOTSTRAP_ACTOR, expires_at=expiry(days)
        ).id
    except TokenError:
        if store.authenticate(token) is None:  # lost the race: fine if the winner stored it
            raise
        return
    log.info("bootstrap admin token %s is installed", token_id)


def _bootstrap_name(token: str) -> str:
    return f"bootstrap-admin-{token_from_secret(token)[0]}"
