"""Schemathesis against the running app (real SQLite store, admin token): no input makes it fail with 5xx.

Bounded for CI: a fixed seed and a few examples per operation. The JUnit report says which operations
it exercised: every route of the app but the event stream, which never ends by itself and is fuzzed
separately below (its query and ``Last-Event-ID``, first bytes only). Oversized bodies are refused
before they are parsed or authenticated, on every route that takes one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.tokens import Role

ST = Path(sys.executable).with_name("st")
STREAM = "/api/v1/alerts/stream"
# Larger than any body the API accepts; small enough to send to every route in a few seconds.
OVERSIZED_BYTES = 16 * 1024 * 1024


def _operations(app: Any) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items() for method in item
            if method in {"get", "post", "put", "patch", "delete"}}


def test_no_generated_request_gets_a_server_error(
    live: Callable[[str], Any], sqlite_url: str, tmp_path: Path
) -> None:
    app = live(sqlite_url)
    junit = tmp_path / "junit.xml"
    command = [
        str(ST), "run", f"{app.url}/openapi.json",
        "--checks", "not_a_server_error",
        "--max-examples", "8", "--seed", "20251126", "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "10",
        "--exclude-path", STREAM,
        "--report", "junit", "--report-junit-path", str(junit),
        "-H", f"Authorization: Bearer {app.tokens[Role.ADMIN]}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\d+ generated, \d+ passed\n", result.stdout), result.stdout[-3000:]
    tested = {case.get("name", "") for case in ET.parse(junit).iter("testcase")}
    untested = _operations(app.app) - {f"GET {STREAM}"} - tested
    assert not untested, f"schemathesis did not exercise {sorted(untested)}"


@pytest.fixture
def stream_url(live: Callable[[str], Any], sqlite_url: str) -> Iterator[tuple[str, str]]:
    app = live(sqlite_url)
    yield f"{app.url}{STREAM}", app.tokens[Role.ADMIN]


# HTTP forbids leading or trailing white space in a header value: the client refuses to send one.
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).filter(
    lambda value: value == value.strip()
)
_instants = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00", "2025-06-01", "now", "",
                     "2025-13-45T99:99:99Z", "1e308"]),
    _header_text,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(since=_instants, last_event_id=st.none() | _header_text)
@example(since="9999-12-31T23:59:59-01:00", last_event_id=None)
def test_the_alert_stream_never_answers_a_server_error(
    stream_url: tuple[str, str], since: str, last_event_id: str | None
) -> None:
    url, token = stream_url
    headers = {"Authorization": f"Bearer {token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    with httpx.stream("GET", url, params={"since": since}, headers=headers, timeout=10) as response:
        assert response.status_code < 500, f"since={since!r} Last-Event-ID={last_event_id!r}"
        if response.status_code == 200:
            assert next(response.iter_bytes()).startswith(b":"), "the stream opens with a comment"


def _body_operations(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) whose OpenAPI operation takes a request body, path parameters filled."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "0" * 32, path)))
    return found


def _refused(client: httpx.Client, method: str, path: str, **body: Any) -> int | None:
    """The status answered, or None when the server closed the connection in the middle of the upload
    (also a refusal: it did not read the body)."""
    try:
        return client.request(method, path, **body).status_code
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None


def test_oversized_bodies_are_refused_before_parsing_on_every_route(
    live: Callable[[str], Any], sqlite_url: str
) -> None:
    app = live(sqlite_url)
    operations = _body_operations(app.app)
    assert len(operations) >= 8, operations
    blob = b'{"body": "' + b"a" * OVERSIZED_BYTES + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(blob), 1 << 20):
            yield blob[start : start + (1 << 20)]

    wrong: list[str] = []
    for token in (None, app.tokens[Role.ADMIN]):
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        headers = {"Content-Type": "application/json", **auth}
        with httpx.Client(base_url=app.url, headers=headers, timeout=60) as client:
            for method, path in operations:
                declared = _refused(client, method, path, content=blob)
                # Without Content-Length (chunked): the limit must count the bytes as they arrive.
                streamed = _refused(client, method, path, content=chunks())
                for how, status in (("with Content-Length", declared), ("chunked", streamed)):
                    if status not in (413, None):
                        wrong.append(f"{method} {path} {how}, {'admin' if token else 'no'} token: {status}")
    assert not wrong, "oversized bodies not refused with 413:\n" + "\n".join(wrong)
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200
