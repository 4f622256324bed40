"""GET /api/v1/policies and POST /api/v1/policies/try over HTTP: the packs as the console browses them,
and "try a text" answering what `veille policies explain` answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from detectors.recognizers.fr import nir_key
from policies.cli import app as policies_cli


def valid_nir() -> str:
    first13 = "2850775123456"  # a woman born in May 1985 in Paris (75)
    return f"{first13}{nir_key(first13):02d}"


def test_packs_by_jurisdiction_with_inheritance_and_each_rule_with_its_tests(
    sqlite_store: SqlAlertStore, serve: Callable[..., str], http: Callable[[str], httpx.Client]
) -> None:
    body = http(serve(sqlite_store)).get("/api/v1/policies").json()
    by_code = {j["jurisdiction"]: j for j in body["jurisdictions"]}
    assert by_code["FR"]["inherits"] == ["fr", "eu", "global"]
    assert by_code["GLOBAL"]["inherits"] == ["global"]
    assert "fr-nir-in-post" in by_code["FR"]["rules"] and "fr-nir-in-post" not in by_code["EU"]["rules"]
    assert set(by_code["EU"]["rules"]) - set(by_code["GLOBAL"]["rules"])  # eu adds rules of its own
    assert set(by_code["GLOBAL"]["rules"]) - set(by_code["FR"]["disabled"]) <= set(by_code["FR"]["rules"])
    rules = {r["id"]: r for r in body["rules"]}
    nir = rules["fr-nir-in-post"]
    assert nir["pack"] == "fr" and nir["severity"] == "critical" and nir["maturity"] == "stable"
    assert nir["when"] == {"pii": {"entities": ["FR_NIR"], "min_score": 0.5, "min_count": 1}}
    assert nir["references"] and nir["remediation"]
    assert nir["tests"]["match"] and nir["tests"]["no_match"]
    assert nir["origin"].startswith("policies/packs/fr.yaml:")
    assert len(body["version"]) == 12


def test_try_a_text_answers_what_policies_explain_answers(
    sqlite_store: SqlAlertStore, serve: Callable[..., str], http: Callable[[str], httpx.Client]
) -> None:
    api = http(serve(sqlite_store))
    nir = valid_nir()
    text = f"Pour la mutuelle, mon numéro de sécu est {nir}, merci"
    response = api.post(
        "/api/v1/policies/try",
        json={"text": text, "jurisdiction": "fr", "source": "internal", "channel": "teams", "lang": "fr"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan_jurisdiction"], body["pack"], body["inherits"]) == ("FR", "fr", ["fr", "eu", "global"])
    matched = {r["rule_id"]: r for r in body["rules"]}
    hit = matched["fr-nir-in-post"]
    assert hit["suppressed_by"] is None and hit["severity"] == "critical"
    assert [(s["type"], s["text"]) for s in hit["spans"]] == [("FR_NIR", nir)]
    assert any("FR_NIR" in clause for clause in hit["clauses"])

    cli = CliRunner().invoke(
        policies_cli, ["explain", "--jurisdiction", "FR", "--source", "internal", "--channel", "teams",
                       "--lang", "fr", text],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    for rule in body["rules"]:
        assert rule["rule_id"] in cli.output
        for clause in rule["clauses"]:
            assert f"because {clause}" in cli.output

    greeting = {"text": "Bonne journée à toute l'équipe", "jurisdiction": "FR"}
    clean = api.post("/api/v1/policies/try", json=greeting)
    assert clean.json()["rules"] == []
    refused = api.post("/api/v1/policies/try", json={"text": "x", "jurisdiction": "France"})
    assert refused.status_code == 422 and "jurisdiction" in refused.text


def test_me_names_the_token_and_its_role_and_policies_are_for_reviewers(
    sqlite_store: SqlAlertStore, serve: Callable[..., str]
) -> None:
    base_url = serve(sqlite_store)
    for role in Role:
        _, token = sqlite_store.create_token(f"{role.value}-console", role, CLI_ACTOR)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(base_url + "/api/v1/me", headers=headers).json() == {
            "name": f"{role.value}-console", "role": role.value,
        }
        status = httpx.get(base_url + "/api/v1/policies", headers=headers).status_code
        assert status == (200 if role not in (Role.COMMS, Role.OPS) else 403)
    assert httpx.get(base_url + "/api/v1/me").status_code == 401
