"""Instants past the calendar's ends once in UTC are a 422 naming the parameter, on every route that
takes one (over HTTP, on a live server): never a 500."""

from __future__ import annotations

import httpx
import pytest

# Both parse (a valid year, a valid offset) but fall outside datetime's range once converted to UTC.
TOO_LATE = "9999-12-31T23:59:59-01:00"
TOO_EARLY = "0001-01-01T00:00:00+01:00"
IN_RANGE = {"since": "2025-03-01T00:00:00Z", "until": "2025-03-02T00:00:00Z"}
WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}

ALERT_FILTER_ROUTES = [
    "/alerts",
    "/api/v1/alerts",
    "/api/v1/analytics/counts",
    "/api/v1/analytics/timeseries",
    "/api/v1/analytics/precision",
    "/api/v1/analytics/review-times",
    "/api/v1/analytics/false-positives",
]
BRAND_ROUTES = [
    "/api/v1/brands/share-of-voice",
    "/api/v1/brands/ExampleCo/timeline",
    "/api/v1/brands/ExampleCo/themes",
]


def _out_of_range(response: httpx.Response, parameter: str, value: str) -> None:
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", parameter]
    assert error["type"] == "instant_out_of_range"
    assert error["msg"].startswith(f"{parameter} is out of range: {value.replace('Z', '+00:00')}")
    assert "9999-12-31T23:59:59Z" in error["msg"], "the message says what range is allowed"


@pytest.mark.parametrize("path", ALERT_FILTER_ROUTES)
@pytest.mark.parametrize(("parameter", "value"), [("until", TOO_LATE), ("since", TOO_EARLY),
                                                  ("since", TOO_LATE), ("until", TOO_EARLY)])
def test_alert_filters_out_of_range(api: httpx.Client, path: str, parameter: str, value: str) -> None:
    _out_of_range(api.get(path, params={**IN_RANGE, parameter: value}), parameter, value)


@pytest.mark.parametrize("path", BRAND_ROUTES)
@pytest.mark.parametrize(("parameter", "value"), [("to", TOO_LATE), ("from", TOO_EARLY)])
def test_brand_window_out_of_range(api: httpx.Client, path: str, parameter: str, value: str) -> None:
    _out_of_range(api.get(path, params={**WINDOW, parameter: value}), parameter, value)


@pytest.mark.parametrize("value", [TOO_LATE, TOO_EARLY])
def test_stream_start_out_of_range(api: httpx.Client, value: str) -> None:
    # Refused before the stream opens: an ordinary JSON error, not an event stream that never ends.
    _out_of_range(api.get("/api/v1/alerts/stream", params={"since": value}), "since", value)


def test_stream_start_without_timezone_is_refused(api: httpx.Client) -> None:
    # It used to be taken silently as "from now": a client asking for history got none.
    response = api.get("/api/v1/alerts/stream", params={"since": "2025-03-01T10:00:00"})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "since"] and error["type"] == "timezone_aware"


def test_the_calendar_ends_themselves_still_work(api: httpx.Client) -> None:
    response = api.get("/api/v1/alerts", params={"since": "0001-01-01T00:00:00Z",
                                                 "until": "9999-12-31T23:59:59.999999Z"})
    assert response.status_code == 200, response.text
    assert response.json()["count"] > 0
    shifted = api.get("/api/v1/alerts", params={"since": "0001-01-01T00:00:00-01:00",
                                                "until": "9999-12-31T23:59:59+01:00"})
    assert shifted.status_code == 200 and shifted.json()["count"] == response.json()["count"]
