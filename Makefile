# Sabiscore — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9

export SABISCORE_HOME ?= $(CURDIR)/.sabiscore
export AIRFLOW_HOME ?= $(SABISCORE_HOME)/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__CORE__PARALLELISM ?= 4
# OpenMP threads (LightGBM, XGBoost) sleep instead of spinning while they wait
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: help install run serve test test-fast lint airflow stack stack-down stack-status lock bench clean browser

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Create .venv with the locked dependencies and the project

$(VENV)/.installed: requirements-dev.lock setup.cfg pyproject.toml
	@echo ">> creating $(VENV) and installing the locked dependencies (first time: a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --python $(PY) -r requirements-dev.lock
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	@touch $@

run: install ## Run the main job end to end on the embedded default (SQLite, local files)
	$(VENV)/bin/sabiscore run

SERVE_PORT ?= 8000

serve: install ## Serve the API on :8000 (embedded default); prints a development key and a curl
	@key=$$($(VENV)/bin/sabiscore keys create --owner dev --tier pro --quiet) && \
	echo ">> development key (pro tier, new each time; see sabiscore keys list/revoke): $$key" && \
	echo ">> try: curl -H 'X-API-Key: $$key' http://127.0.0.1:$(SERVE_PORT)/v1/matches/upcoming" && \
	echo ">> OpenAPI docs: http://127.0.0.1:$(SERVE_PORT)/docs" && \
	exec $(VENV)/bin/sabiscore serve --port $(SERVE_PORT)

browser: ## Headless Chromium for tests/test_serving_docs.py and tests/test_airflow_ui.py (apt-installed when missing, as root)
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo ">> installing chromium (the docs' browser test)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo ">> no chromium and not root: tests/test_serving_docs.py is skipped"; \
	  fi; \
	fi

test: install browser ## Run the whole test suite (needs PostgreSQL and Redis on localhost)
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: install ## Tests without the slow end-to-end ones
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow"

lint: install ## ruff on the code, then mypy on the library, the feature store and the API
	$(VENV)/bin/ruff check sabiscore_ml feature_store serving dags plugins tests bench deploy
	$(VENV)/bin/mypy

airflow: install ## Start Airflow standalone (UI on :8080) on dags/ and plugins/
	$(VENV)/bin/sabiscore init
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/airflow standalone

STACK_DIR ?= $(CURDIR)/.stack

stack: install ## The compose services as local processes on local PostgreSQL/Redis (STACK_ARGS: deploy/stack.py options)
	$(PY) deploy/stack.py up --state-dir $(STACK_DIR) $(STACK_ARGS)

stack-down: ## Stop what `make stack` started (DROP=1: also drop its databases, Redis keys and .stack)
	$(PY) deploy/stack.py down --state-dir $(STACK_DIR) $(if $(DROP),--drop)

stack-status: ## The state and health of each service `make stack` started
	$(PY) deploy/stack.py status --state-dir $(STACK_DIR)

lock: ## Re-resolve requirements.lock (runtime) and requirements-dev.lock from setup.cfg
	$(VENV)/bin/uv pip compile --python-version 3.11 setup.cfg -o requirements.lock
	$(VENV)/bin/uv pip compile --python-version 3.11 setup.cfg --extra dev -c requirements.lock -o requirements-dev.lock

bench: install ## Full football-data load benchmark (needs FOOTBALL_DATA_DIR)
	$(PY) bench/load_football_data.py $${FOOTBALL_DATA_DIR:-../shared/data/football-data}

clean: ## Remove the embedded state (.sabiscore) — the warehouse, archive and MLflow store
	rm -rf $(SABISCORE_HOME)
