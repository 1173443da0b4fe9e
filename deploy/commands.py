"""The command line of each Dagster service, written once for every topology.

The local production topology (:mod:`deploy.topology`) runs exactly these; the ``Dockerfile``,
``docker-compose.yml`` and ``deploy/helm/values.yaml`` write the same ones, which
``tests/test_deploy_files.py`` holds equal. Every command runs in the project folder (``/app`` in
the image), where ``deploy/workspace.yaml`` and dlt's ``.dlt/config.toml`` are found.
"""

from __future__ import annotations

LOCATION_NAME = "elt_platform"
"""The code location's name, in the UI and in the workspace file."""

DEFINITIONS_MODULE = "orchestration.definitions"

WORKSPACE = "deploy/workspace.yaml"

CONTAINER_HOST = "0.0.0.0"
"""What a service listens on inside a container; the local topology listens on loopback only."""

WEBSERVER_PORT = 3000
CODE_SERVER_PORT = 4000
"""Default ports; ``DAGSTER_PORT`` and ``DAGSTER_CODE_SERVER_PORT`` change them."""


def code_server(host: str, port: int) -> list[str]:
    """Serve the definitions over gRPC. ``code-server start`` (not ``api grpc``) lets the UI
    reload the code; it starts every run as a process of its own, launched with this server's
    Python (``--use-python-environment-entry-point``), whatever is on PATH."""
    return [
        "dagster",
        "code-server",
        "start",
        "-h",
        host,
        "-p",
        str(port),
        "-m",
        DEFINITIONS_MODULE,
        "--location-name",
        LOCATION_NAME,
        "--use-python-environment-entry-point",
    ]


def webserver(host: str, port: int) -> list[str]:
    return ["dagster-webserver", "-h", host, "-p", str(port), "-w", WORKSPACE]


def daemon() -> list[str]:
    return ["dagster-daemon", "run", "-w", WORKSPACE]


def prepare(*, end_dead_runs: bool = False) -> list[str]:
    """The start-up step before the services (see ``python -m deploy prepare --help``)."""
    return ["python", "-m", "deploy", "prepare", *(["--end-dead-runs"] if end_dead_runs else [])]


def code_server_health_check(host: str, port: int) -> list[str]:
    return ["dagster", "api", "grpc-health-check", "-h", host, "-p", str(port)]


def daemon_liveness_check() -> list[str]:
    return ["dagster-daemon", "liveness-check"]
