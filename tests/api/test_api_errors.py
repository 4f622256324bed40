"""Bad input gets a JSON 4xx naming the parameter and what is allowed; never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from alerts.query import InvalidCursor, decode_cursor


def only_error(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    errors = response.json()["detail"]
    assert isinstance(errors, list) and len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


def test_bad_severity_lists_the_allowed_values(api: httpx.Client) -> None:
    error = only_error(api.get("/alerts", params={"severity": "urgent"}))
    assert error["loc"] == ["query", "severity", 0]
    assert error["msg"] == "Input should be 'info', 'low', 'medium', 'high' or 'critical'"
    assert error["input"] == "urgent"


def test_bad_severity_among_good_ones_is_located(api: httpx.Client) -> None:
    error = only_error(api.get("/alerts", params={"severity": ["high", "hihg"]}))
    assert error["loc"] == ["query", "severity", 1]


def test_bad_status_and_source_list_the_allowed_values(api: httpx.Client) -> None:
    error = only_error(api.get("/api/v1/alerts", params={"status": "done"}))
    assert error["loc"] == ["query", "status", 0]
    assert error["msg"] == (
        "Input should be 'open', 'acknowledged', 'in_review', 'escalated', 'pending_approval' or 'closed'"
    )
    error = only_error(api.get("/api/v1/alerts", params={"source": "twitter"}))
    assert error["msg"] == "Input should be 'internal' or 'external'"


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", "2025-03-01T25:00:00Z"])
def test_bad_datetime_says_what_format_is_expected(api: httpx.Client, value: str) -> None:
    error = only_error(api.get("/alerts", params={"since": value}))
    assert error["loc"] == ["query", "since"]
    assert error["msg"].startswith("Input should be a valid datetime")
    assert "ISO 8601 with a timezone is expected, e.g. 2025-03-04T09:00:00Z" in error["msg"]


def test_unencoded_plus_in_an_offset_gets_a_hint(api: httpx.Client) -> None:
    # A '+' typed raw in a URL arrives as a space: the message must point at the fix.
    error = only_error(api.get("/alerts?until=2025-03-01T10:00:00+02:00"))
    assert error["loc"] == ["query", "until"]
    assert "write a '+' offset as %2B" in error["msg"]


def test_datetime_without_timezone_is_refused(api: httpx.Client) -> None:
    error = only_error(api.get("/alerts", params={"until": "2025-03-01T10:00:00"}))
    assert error["loc"] == ["query", "until"]
    assert error["msg"].startswith("Input should have timezone info")


def test_since_not_before_until_is_a_400(api: httpx.Client) -> None:
    for since, until in (("2025-03-02T00:00:00Z", "2025-03-01T00:00:00Z"), ("2025-03-01T00:00:00Z",) * 2):
        response = api.get("/alerts", params={"since": since, "until": until})
        assert response.status_code == 400
        assert response.json() == {
            "detail": f"since ({since.replace('Z', '+00:00')}) must be earlier than until "
            f"({until.replace('Z', '+00:00')})"
        }


@pytest.mark.parametrize("limit", ["0", "501", "-3", "ten", "1.5"])
def test_limit_out_of_range_names_the_range(api: httpx.Client, limit: str) -> None:
    error = only_error(api.get("/alerts", params={"limit": limit}))
    assert error["loc"] == ["query", "limit"]
    expected = {
        "0": "Input should be greater than or equal to 1",
        "-3": "Input should be greater than or equal to 1",
        "501": "Input should be less than or equal to 500",
        "ten": "Input should be a valid integer, unable to parse string as an integer",
        "1.5": "Input should be a valid integer, unable to parse string as an integer",
    }[limit]
    assert error["msg"] == expected


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "bm90IGpzb24",  # base64 of "not json"
        _forged({"a": 1}),
        _forged([9, 0, "x"]),
        _forged([1, "soon", "x"]),
        _forged([1, 10**20, "x"]),
    ],
)
def test_garbage_cursor_is_a_400_that_says_why(api: httpx.Client, cursor: str) -> None:
    # The reason is the store's own (alerts.query); the API must pass it on, framed, as a 400.
    with pytest.raises(InvalidCursor) as refused:
        decode_cursor(cursor)
    assert refused.value.reason
    response = api.get("/alerts", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"cursor is not valid: {refused.value.reason}; "
        "pass back the next_cursor of a previous page unchanged"
    }


def test_oversized_cursor_is_refused(api: httpx.Client) -> None:
    error = only_error(api.get("/alerts", params={"cursor": "A" * 300}))
    assert error["loc"] == ["query", "cursor"]
    assert error["msg"] == "String should have at most 256 characters"


def test_unknown_parameter_is_refused_not_ignored(api: httpx.Client) -> None:
    # A typo must not silently return the unfiltered queue.
    error = only_error(api.get("/alerts", params={"severty": "high"}))
    assert error["loc"] == ["query", "severty"]
    assert error["msg"] == "Extra inputs are not permitted"


def test_empty_and_oversized_filter_values(api: httpx.Client) -> None:
    error = only_error(api.get("/alerts", params={"jurisdiction": ""}))
    assert error["loc"] == ["query", "jurisdiction", 0]
    assert error["msg"] == "String should have at least 1 character"
    error = only_error(api.get("/alerts", params={"rule": "r" * 129}))
    assert error["msg"] == "String should have at most 128 characters"
    error = only_error(api.get("/alerts", params={"rule": [f"r{i}" for i in range(101)]}))
    assert error["loc"] == ["query", "rule"]
    assert error["msg"] == "List should have at most 100 items after validation, not 101"


@pytest.mark.parametrize(
    "path",
    [
        "/alerts/%00",
        "/alerts/" + "x" * 5000,
        "/alerts?limit=%00",
        "/alerts?since=%FF%FE",
        "/alerts?cursor=%F0%9F%92%A9",
        "/alerts?severity=%27%3B--",
        "/api/v1/alerts?since=1e309",
    ],
)
def test_hostile_input_is_never_a_server_error(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()


def test_unknown_route_and_method_are_json(api: httpx.Client) -> None:
    assert api.get("/nope").json() == {"detail": "Not Found"}
    response = api.delete("/alerts")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
