"""Production deployment: Dagster as long-lived services with its storage in PostgreSQL.

``commands`` holds each service's command line, ``storage`` Dagster's database, ``topology`` the
local production topology (``make prod-up``); ``dagster.yaml`` and ``workspace.yaml`` configure
the instance and where the code is; ``helm/values.yaml`` is the same for Kubernetes. The
``Dockerfile`` and ``docker-compose.yml`` at the project's root run the same commands.
"""
