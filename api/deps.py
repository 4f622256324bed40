"""Dependencies shared by the routes, as ``Annotated`` aliases (``StoreDep``, ``SettingsDep``).

Everything comes from ``app.state``, filled by :func:`api.app.create_app`: nothing is built at import
time, so several apps (tests, or one per store) can live in one process.
"""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Query, Request

from alerts.model import Alert
from alerts.query import AlertQuery, Page
from api.schemas import AlertFilters
from monitor.settings import Settings


class AlertReader(Protocol):
    """The part of the alert store the API reads through (``alerts.store.SqlAlertStore`` fits)."""

    def get(self, alert_id: str) -> Alert | None: ...

    def query(self, q: AlertQuery) -> Page[Alert]: ...

    def count(self, q: AlertQuery) -> int: ...

    def count_open_by_severity(self) -> dict[str, int]: ...

    def ping(self) -> None: ...


def get_store(request: Request) -> AlertReader:
    return cast(AlertReader, request.app.state.store)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


StoreDep = Annotated[AlertReader, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AlertFiltersDep = Annotated[AlertFilters, Query()]
