"""No Docker engine runs here, so the compose file is checked as a document: against the
compose specification's schema (tests/data/compose_spec.json, from the docker-compose
1.29.2 wheel), and for references that resolve in this repository."""

import json
import tomllib
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/data/compose_spec.json").read_text())
    jsonschema.Draft201909Validator(schema).validate(compose())


def test_every_service_module_it_runs_exists() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    for name in ("intake", "router", "sla", "notify", "points", "supervision", "console"):
        command = services[name]["command"]
        module = command[command.index("-m") + 1]
        package = module.split(".")[1]
        assert (ROOT / f"services/{package}/src/chuishao/{package}/__main__.py").exists()
        # One image per service, with only its own package installed (Dockerfile).
        assert services[name]["build"] == {"context": ".", "args": {"SERVICE": package}}


def test_services_wait_for_healthy_servers() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    for name in ("intake", "router", "sla", "notify", "points", "supervision", "console"):
        for dependency in ("nats", "redis"):
            assert services[name]["depends_on"][dependency]["condition"] == "service_healthy"
    assert "healthcheck" in services["nats"]
    assert "healthcheck" in services["redis"]
    assert "--appendonly" in services["redis"]["command"]


def test_nats_config_syncs_every_write() -> None:
    config = (ROOT / "config/nats-server.conf").read_text()
    assert "sync_interval: always" in config


def test_the_dockerfile_installs_every_service_package() -> None:
    """Each image installs its own service's package (build arg SERVICE), nothing else."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--package chuishao-${SERVICE}" in dockerfile
    assert "--all-packages" not in dockerfile
    assert dockerfile.count("uv sync") == 1
    for member in ("intake", "router", "sla", "notify", "points", "supervision", "console"):
        project = tomllib.loads((ROOT / f"services/{member}/pyproject.toml").read_text())
        assert project["project"]["name"] == f"chuishao-{member}"


def test_nats_runs_with_per_unit_users() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert "./config/nats-auth.conf:/etc/nats/nats-auth.conf:ro" in services["nats"]["volumes"]
    assert "include ./nats-auth.conf" in (ROOT / "config/nats-server.conf").read_text()
    assert "services:${CHUISHAO_NATS_SERVICES_PASSWORD" in str(services["intake"]["environment"])


def test_the_console_reaches_intake_with_its_key_and_the_shared_person_secret() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    console, intake = services["console"]["environment"], services["intake"]["environment"]
    assert console["CHUISHAO_CONSOLE_INTAKE_URL"] == "http://intake:8080"
    assert "CHUISHAO_CONSOLE_API_KEY" in console
    assert "CHUISHAO_CONSOLE_API_KEYS" in intake
    assert console["CHUISHAO_PERSON_TOKEN_SECRET"] == intake["CHUISHAO_PERSON_TOKEN_SECRET"]
    assert services["console"]["ports"] == ["127.0.0.1:8070:8070"]
