# runners-bot: every target sets itself up first, so each works on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The real upstream charts and CRDs the tests render and validate through (tests/support/upstream.py):
# ../shared/upstream when it is there, unless set already.
UPSTREAM ?= $(abspath ../shared/upstream)
ifneq ($(wildcard $(UPSTREAM)/arc-0.12.1/charts),)
export ARC_CHARTS_DIR ?= $(UPSTREAM)/arc-0.12.1/charts
export UPSTREAM_DIR ?= $(UPSTREAM)
endif

.PHONY: setup demo test lint lock bench bench-editor bench-ingest bench-api bench-store bench-scale bench-jobs bench-cluster clean

setup: $(STAMP)

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	# GitHub's webhook examples and REST description (test fixtures), Probot (benchmark baseline)
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

## demo: what the app would do with a real command, against the bundled values/ (the app
## alone: no test or benchmark tools, no node_modules)
DEMO_VENV ?= .venv-demo
$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DEMO_VENV)/bin/python -m pip install --quiet -e .
	touch $@

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/runners-bot simulate --user octocat "/runners scale project-beta-frontend max=20"

## lint: ruff (lint + format check), mypy --strict, the layers (import-linter), and the repository's own values/
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/runners-bot validate

## test: lint, then the whole test suite on SQLite, then the tests that run the app on its
## store (marked `store` by tests/conftest.py) again on PostgreSQL (a throwaway server from
## the machine's initdb/pg_ctl; tests/support/postgres.py). test_store.py and test_replicas.py
## cover PostgreSQL in the first run already.
test: lint
	$(BIN)/pytest
	RUNNERS_BOT_TEST_STORE=postgresql $(BIN)/pytest -m store

## bench: every benchmark, each a table with ratios against a baseline measured in the same run
bench: bench-editor bench-api bench-scale bench-ingest bench-store bench-jobs bench-cluster

bench-editor: setup
	$(BIN)/python -m bench.bench_editor

bench-api: setup
	$(BIN)/python -m bench.bench_api_calls

# Fleets of 50, 1,000 and 10,000 sets: reply latency, dashboard refresh, serve's RSS, rollout delay.
bench-scale: setup
	$(BIN)/python -m bench.bench_scale

# wrk comes from Debian's packages (installed here when missing; needs root, as on CI machines).
bench-ingest: setup
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python -m bench.bench_ingest

# 1,000,000 workflow_job deliveries over 10,000 sets into the job evidence: rows, file, RSS per day.
bench-jobs: setup
	$(BIN)/python -m bench.bench_jobs

# PostgreSQL's server binaries come from Debian's packages (installed here when missing).
bench-store: setup
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -q && apt-get install -y -q postgresql)
	$(BIN)/python -m bench.bench_store

# the watched cluster view's memory and per-event cost at 1k/10k/50k sets vs whole objects
bench-cluster: setup
	$(BIN)/python -m bench.bench_cluster_view

## lock: requirements.lock, the image's hash-pinned dependencies, from pyproject.toml
lock: setup
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) $(DEMO_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
