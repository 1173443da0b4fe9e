# syntax=docker/dockerfile:1
# The platform's image. It runs the code server by default; docker-compose.yml runs the webserver,
# the daemon and the start-up step from it too, and the Helm chart runs each Kubernetes run pod
# from it. Every command is one of deploy/commands.py's, as `make prod-up` runs them.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# uv from PyPI, pinned; it uses this image's Python and never downloads one.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /app
# The locked dependencies without the dev group, in a layer of their own: rebuilt only when
# uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
RUN uv sync --locked --no-dev
# The manifest the code server reads (it never parses the project) and dbt's partial-parse file,
# as `make manifest` writes them. Parsing needs no connection, so the dev target's defaults do;
# models land in the same schemas in every target.
WORKDIR /app/dbt_project
RUN DBT_TARGET=dev ../.venv/bin/dbt parse --quiet

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 --user-group dagster \
    && mkdir -p /opt/dagster/dagster_home/storage /opt/dagster/data \
    && chown -R dagster:dagster /opt/dagster
COPY --from=build --chown=dagster:dagster /app /app
COPY --from=build --chown=dagster:dagster /app/deploy/dagster.yaml /opt/dagster/dagster_home/
WORKDIR /app
# DBT_TARGET=prod: dbt and Dagster's resources read every connection setting from the
# environment (PG* for dbt, LOADER_PG* for dlt), with no defaults; Dagster's storage DAGSTER_PG*.
ENV PATH=/app/.venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    PLATFORM_DATA_DIR=/opt/dagster/data \
    DBT_TARGET=prod \
    PYTHONUNBUFFERED=1
USER 10001
EXPOSE 4000
HEALTHCHECK --interval=20s --timeout=10s --start-period=120s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-h", "127.0.0.1", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "orchestration.definitions", "--location-name", "elt_platform", "--use-python-environment-entry-point"]
