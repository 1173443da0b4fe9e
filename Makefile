# Everything a person runs is a target here; the README lists them.
# `make run` does the whole pipeline end to end; `make test` runs the test suite.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBT := cd dbt_project && ../$(BIN)/dbt

# uv must never download a Python: it uses the interpreter this machine has.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
export DAGSTER_HOME := $(CURDIR)/data/dagster
# As if the virtualenv were activated: Dagster and dbt start each other by name, and dg checks
# that the active virtualenv is the project's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# Settings for a person's own machine (see .env.example), exported to every command.
-include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env 2>/dev/null)

# Use uv from PATH; without one, install it into .tools/ with pip (no root, no network beyond PyPI).
# `make install` compiles the installed packages to bytecode once per lock (.venv/.bytecode): where
# Python may not write .pyc files (PYTHONDONTWRITEBYTECODE, read-only installs), every process
# would otherwise compile dagster, dbt and dlt from source each time it starts (seconds each).
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)

DAYS ?= 1
DOCS_PORT ?= 8080
DAGSTER_PORT ?= 3000
DAGSTER_CODE_SERVER_PORT ?= 4000
# The production topology's ports: the UI (the same variable as make dev's) and the code server.
PROD_PORTS = DAGSTER_PORT=$(DAGSTER_PORT) DAGSTER_CODE_SERVER_PORT=$(DAGSTER_CODE_SERVER_PORT)

# Where the loads read (dlt's SOURCES__<NAME>__<KEY>; .dlt/config.toml has the rest). These
# defaults are the demo sources (demo_sources/): the shop database on the embedded server and the
# demo payments API on PAYMENTS_API_PORT, which the demo commands serve. Point them at your own
# systems in .env (see .env.example and the README).
export PAYMENTS_API_PORT ?= 8765
export PAYMENTS_API_TOKEN ?= demo-payments-token
export SOURCES__SHOP__CREDENTIALS ?= postgresql://shop_reader:shop-reader-local@127.0.0.1:$(or $(PGPORT),55432)/shop
export SOURCES__PAYMENTS__BASE_URL ?= http://127.0.0.1:$(PAYMENTS_API_PORT)
export SOURCES__PAYMENTS__API_TOKEN ?= $(PAYMENTS_API_TOKEN)

.PHONY: help install notebook check-defs run test test-fast test-faults lint format dev manifest db-up \
	db-down db-status psql summary clean demo-init demo-advance demo-api demo-api-up demo-api-down load \
	docs prod-up prod-down prod-status

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: | $(UV) ## Install the locked dependencies into .venv
	@$(UV) sync --locked --quiet
	@[ $(VENV)/.bytecode -nt uv.lock ] || \
		{ $(UV) sync --locked --quiet --compile-bytecode && touch $(VENV)/.bytecode; }

run: install db-up demo-init demo-api-up ## Run the whole pipeline end to end: load, transform, test (VERBOSE=1: every log line)
	@$(BIN)/python -m orchestration.instance
	@$(BIN)/python -m orchestration.launch refresh_warehouse $(if $(VERBOSE),--verbose)
	@$(MAKE) --no-print-directory summary

test: install ## Run the test suite (against its own throwaway embedded Postgres)
	$(BIN)/pytest

test-fast: install ## Only the tests of pure functions: seconds, no database
	$(BIN)/pytest tests/unit -q

test-faults: install ## The fault suite: kills, crashes, concurrent and bad input; prints its figures
	$(BIN)/pytest tests/faults -m faults -q

lint: install ## ruff and sqlfluff, zero violations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

format: install ## Fix what ruff and sqlfluff can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix dbt_project

dev: install db-up demo-init demo-api-up ## Open the Dagster UI on http://127.0.0.1:3000
	$(BIN)/python -m orchestration.instance
	$(BIN)/dg dev --host 127.0.0.1 --port $(DAGSTER_PORT)

check-defs: install ## Load the Dagster definitions and list every asset (dg check defs, dg list defs)
	$(BIN)/dg check defs
	$(BIN)/dg list defs --columns key,group

notebook: | $(UV) ## Open notebooks/data_profiling.ipynb in Jupyter (installs the notebook group)
	@$(UV) sync --locked --quiet --group notebook
	$(BIN)/jupyter lab notebooks/data_profiling.ipynb

prod-up: install db-up demo-init demo-api-up manifest ## Production topology: code server, webserver, daemon; runs in Postgres
	$(PROD_PORTS) $(BIN)/python -m deploy up

prod-down: install ## Stop the production topology (then the demo API and embedded Postgres), in 30 s
	$(PROD_PORTS) $(BIN)/python -m deploy down
	@$(MAKE) --no-print-directory demo-api-down db-down

prod-status: install ## Whether each service of the production topology runs and answers
	$(PROD_PORTS) $(BIN)/python -m deploy status

docs: install db-up ## Build the dbt docs and serve them on http://127.0.0.1:8080 (DOCS_PORT=...)
	$(DBT) docs generate
	$(DBT) docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

manifest: install ## Parse the dbt project into target/manifest.json (Dagster reads it)
	$(DBT) parse --quiet

db-up: install ## Start the embedded Postgres (no-op if it runs or PGHOST is set)
	$(BIN)/python -m warehouse up

db-down: install ## Stop the embedded Postgres
	$(BIN)/python -m warehouse down

db-status: install ## Say whether Postgres runs and print the URL for BI tools (read-only, marts)
	$(BIN)/python -m warehouse status

psql: install ## Open psql on the warehouse
	$(BIN)/python -m warehouse psql

demo-init: install db-up ## Create the demo shop with 30 days of history (no-op if it exists)
	$(BIN)/python -m demo_sources init

demo-advance: install db-up ## Move the demo shop forward: make demo-advance DAYS=3
	$(BIN)/python -m demo_sources advance --days $(DAYS)

demo-api: install db-up ## Serve the demo payments API on PAYMENTS_API_PORT (Ctrl-C stops it)
	$(BIN)/python -m demo_sources api

demo-api-up: install db-up ## Start the demo payments API in the background (no-op if it runs)
	$(BIN)/python -m demo_sources api-up

demo-api-down: install ## Stop the background demo payments API
	$(BIN)/python -m demo_sources api-down

load: install db-up demo-init demo-api-up ## Run the loads without Dagster: make load [SOURCES="shop ..."] (VERBOSE=1: dlt's progress)
	@$(BIN)/python -m ingestion $(if $(VERBOSE),--progress) $(SOURCES)

summary: install ## List the warehouse's tables with row counts
	@echo
	@$(BIN)/python -m warehouse summary
	@echo
	@echo "Open the Dagster UI with 'make dev' (http://127.0.0.1:$(DAGSTER_PORT)), psql with 'make psql'."

clean: ## Remove build output (keeps data/ and .venv)
	rm -rf dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
