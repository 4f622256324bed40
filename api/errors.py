"""Every client error is JSON that names the parameter and what is allowed; store trouble is a 503.

Validation errors keep FastAPI's shape (``{"detail": [{"loc", "msg", "type", ...}]}``), so clients can
rely on one format; errors that are not about one parameter's syntax (a bad cursor, an empty time
range) are ``{"detail": "<sentence>"}`` with status 400.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from alerts.cases import CaseNotFound
from alerts.levels import AwaitingApproval, NotPermitted
from alerts.lifecycle import AlertNotFound, IllegalTransition, LifecycleError
from alerts.query import InvalidCursor, out_of_range
from alerts.silences import SilenceNotFound
from alerts.store import StoreError

log = logging.getLogger(__name__)

_DATETIME_HINT = (
    "ISO 8601 with a timezone is expected, e.g. 2025-03-04T09:00:00Z "
    "(in a URL, write a '+' offset as %2B)"
)
# Credentials that may hide in a driver's error message: user:password@ in URLs, password=... pairs.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)[^/@\s]+@")
_KEY_VALUE_SECRETS = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|sasl_plain_password)=[^\s,;&)\]}]+")
_MAX_REASON_CHARS = 200


class BadRequest(ValueError):
    """A request whose parameters are each valid but do not make sense together."""


def safe_reason(exc: BaseException) -> str:
    """A short, credential-free description of ``exc`` fit for a response body."""
    message = str(exc) or "no detail"
    message = _URL_CREDENTIALS.sub(r"\g<scheme>***@", message)
    message = _KEY_VALUE_SECRETS.sub(r"\1=***", message)
    message = " ".join(message.split())
    if len(message) > _MAX_REASON_CHARS:
        message = message[: _MAX_REASON_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {message}"


def _with_hints(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    hinted = []
    for error in errors:
        if str(error.get("type", "")).startswith(("datetime_", "timezone_")):
            error = {**error, "msg": f"{error['msg']}; {_DATETIME_HINT}"}
        elif error.get("type") == "instant_out_of_range" and error.get("loc"):
            # A query parameter's validator does not know its name (from, to, since): the location does.
            error = {**error, "msg": out_of_range(str(error["loc"][-1]), error["ctx"]["value"])}
        hinted.append(error)
    return hinted


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _with_hints(list(exc.errors()))
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


async def _invalid_cursor(request: Request, exc: Exception) -> JSONResponse:
    reason = exc.reason if isinstance(exc, InvalidCursor) else str(exc)
    detail = f"cursor is not valid: {reason}; pass back the next_cursor of a previous page unchanged"
    return JSONResponse(status_code=400, content={"detail": detail})


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": str(exc)})


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The reason goes to the log (for operators), not to the client.
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, safe_reason(exc))
    return JSONResponse(
        status_code=503,
        content={"detail": "the alert store is unavailable; retry later"},
        headers={"Retry-After": "5"},
    )


async def _illegal_transition(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IllegalTransition)
    content = {"detail": str(exc), "current": exc.current.value, "allowed": [s.value for s in exc.allowed]}
    return JSONResponse(status_code=409, content=content)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


async def _not_permitted(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=403, content={"detail": str(exc)})


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=409, content={"detail": str(exc)})


async def _lifecycle_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": str(exc)})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(BadRequest, _bad_request)
    app.add_exception_handler(StoreError, _store_unavailable)
    # Most specific first is not needed: Starlette picks the handler along the exception's MRO.
    app.add_exception_handler(IllegalTransition, _illegal_transition)
    app.add_exception_handler(AlertNotFound, _not_found)
    app.add_exception_handler(SilenceNotFound, _not_found)
    app.add_exception_handler(CaseNotFound, _not_found)
    app.add_exception_handler(NotPermitted, _not_permitted)
    app.add_exception_handler(AwaitingApproval, _conflict)
    app.add_exception_handler(LifecycleError, _lifecycle_error)
