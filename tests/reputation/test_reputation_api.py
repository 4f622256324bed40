"""GET /api/v1/brands/{brand}/timeline over real HTTP, on windows a real aggregator saved."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alerts.reputation_store import ReputationStore
from alerts.store import SqlAlertStore
from api.app import API_V1_PREFIX, create_app
from api.routes import brands
from detectors.base import Finding
from monitor.brands import BrandConfig, default_brands
from monitor.pipeline import PostResult
from monitor.reputation import ReputationAggregator
from monitor.settings import Settings
from policies.post import Author, Post, Source

TOKEN = "veille_00000000000000b7_" + "B" * 43
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _result(i: int, at: datetime, compound: float,
            text: str = "ExampleCo again, a secret-ish phrase nobody should see") -> PostResult:
    post = Post(id=f"p{i}", source=Source.EXTERNAL, channel="x", author=Author(id=f"author-{i}"),
                text=text, lang="en", created_at=at)
    return PostResult(post, "FR", findings=[Finding("sentiment", "x", 0, len(text), compound, "t")])


@pytest.fixture
def base_url(tmp_path: Path, live_server: Callable[[FastAPI], AbstractContextManager[str]]) -> Iterator[str]:
    settings = Settings(_env_file=None, data_dir=tmp_path, bootstrap_admin_token=TOKEN,
                        brands=[*default_brands(), BrandConfig(name="OtherBrand")])
    store = SqlAlertStore.open(settings.resolved_database_url)
    rep = ReputationStore.open(settings.resolved_database_url)
    agg = ReputationAggregator(settings.brands, settings.reputation, store=rep)
    # Window 0: 3 posts, 1 negative; window 1: none; window 2: 2 posts, both negative.
    stream = [(0, 10, -0.6), (1, 20, 0.5), (2, 290, 0.3), (3, 610, -0.7), (4, 650, -0.2)]
    results = [_result(i, T0 + timedelta(seconds=s), c) for i, s, c in stream]
    # OtherBrand: 3 posts in the same quarter of an hour, for the share of voice.
    results += [_result(10 + i, T0 + timedelta(seconds=60 * i), 0.2, "OtherBrand is fine") for i in range(3)]
    # Half an hour later: 6 negative ExampleCo posts sharing words, one with a word nobody else used.
    results += [_result(20 + i, T0 + timedelta(seconds=1800 + i), -0.8,
                        f"ExampleCo refund refused, call 06123456{i:02d} or mail jo{i}@mail.example")
                for i in range(6)]
    results.append(_result(30, T0 + timedelta(seconds=1810), -0.8, "ExampleCo refund zorglub"))
    agg.process(results)
    agg.save()
    rep.close()
    app = create_app(settings, store)
    app.include_router(brands.router, prefix=API_V1_PREFIX)
    with live_server(app) as url:
        yield url
    store.close()


def _get(base_url: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(base_url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def test_timeline_points(base_url: str) -> None:
    response = _get(base_url, "/api/v1/brands/ExampleCo/timeline", **{
        "from": "2026-11-02T08:00:00Z", "to": "2026-11-02T08:15:00Z"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["volume"] for p in body["points"]] == [3, 0, 2]
    assert body["points"][0]["negative_share"] == pytest.approx(1 / 3)
    assert body["points"][1]["negative_share"] is None
    assert body["points"][2]["mean_compound"] == pytest.approx(-0.45)
    assert "secret-ish" not in response.text and "author-" not in response.text

    coarse = _get(base_url, "/api/v1/brands/ExampleCo/timeline", **{
        "from": "2026-11-02T08:00:00Z", "to": "2026-11-02T08:15:00Z", "step": "600", "source": "external",
        "jurisdiction": "fr"}).json()
    assert [p["volume"] for p in coarse["points"]] == [3, 2]
    other = _get(base_url, "/api/v1/brands/ExampleCo/timeline", **{
        "from": "2026-11-02T08:00:00Z", "to": "2026-11-02T08:15:00Z", "source": "internal"}).json()
    assert [p["volume"] for p in other["points"]] == [0, 0, 0]


@pytest.mark.parametrize(("params", "status", "needle"), [
    ({"from": "2026-11-02T09:00:00Z", "to": "2026-11-02T08:00:00Z"}, 400, "must be earlier"),
    ({"from": "2026-11-02T08:00:00Z", "to": "2026-11-02T09:00:00Z", "step": "100"}, 400, "multiple"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, 400, "at most 2000"),
    # Refused while validating, like every instant a route takes (alerts.query.Instant).
    ({"from": "2026-11-02T08:00:00", "to": "2026-11-02T09:00:00Z"}, 422, "should have timezone info"),
    ({"to": "2026-11-02T09:00:00Z"}, 422, "from"),
])
def test_timeline_rejects_bad_parameters(base_url: str, params: dict[str, str], status: int,
                                         needle: str) -> None:
    response = _get(base_url, "/api/v1/brands/ExampleCo/timeline", **params)
    assert response.status_code == status, response.text
    assert needle in response.text


def test_unknown_brand_and_no_token(base_url: str) -> None:
    response = _get(base_url, "/api/v1/brands/Nope/timeline", **{
        "from": "2026-11-02T08:00:00Z", "to": "2026-11-02T09:00:00Z"})
    assert response.status_code == 404 and "ExampleCo" in response.text
    assert httpx.get(base_url + "/api/v1/brands/ExampleCo/timeline", timeout=10).status_code == 401


def test_share_of_voice(base_url: str) -> None:
    window = {"from": "2026-11-02T08:00:00Z", "to": "2026-11-02T08:15:00Z"}
    body = _get(base_url, "/api/v1/brands/share-of-voice", **window).json()
    assert body["total"] == 8
    assert [(b["brand"], b["volume"]) for b in body["brands"]] == [("ExampleCo", 5), ("OtherBrand", 3)]
    assert body["brands"][0]["share"] == pytest.approx(5 / 8)
    internal = _get(base_url, "/api/v1/brands/share-of-voice", source="internal", **window).json()
    assert internal["total"] == 0 and all(b["share"] is None for b in internal["brands"])
    bad = _get(base_url, "/api/v1/brands/share-of-voice", **{"from": "2026-11-02T09:00:00Z",
                                                             "to": "2026-11-02T08:00:00Z"})
    assert bad.status_code == 400 and "must be earlier" in bad.text


def test_negative_themes_without_personal_data(base_url: str) -> None:
    response = _get(base_url, "/api/v1/brands/ExampleCo/themes",
                    **{"from": "2026-11-02T08:00:00Z", "to": "2026-11-02T09:00:00Z"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["negative_posts"] == 3 + 7
    # "refund" (7 posts), "refused", "call", "mail" (6): at least MIN_THEME_POSTS each; the rest fewer.
    assert [(t["term"], t["posts"]) for t in body["themes"]] == [
        ("refund", 7), ("call", 6), ("mail", 6), ("refused", 6)]
    for absent in ("zorglub", "0612", "jo0", "mail.example", "exampleco", "secret"):
        assert all(absent not in t["term"] for t in body["themes"])
    limited = _get(base_url, "/api/v1/brands/ExampleCo/themes", limit="1",
                   **{"from": "2026-11-02T08:00:00Z", "to": "2026-11-02T09:00:00Z"}).json()
    assert [t["term"] for t in limited["themes"]] == ["refund"]
    assert _get(base_url, "/api/v1/brands/Nope/themes", **{"from": "2026-11-02T08:00:00Z",
                                                          "to": "2026-11-02T09:00:00Z"}).status_code == 404
