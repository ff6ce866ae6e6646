# Roomcast's entry points. `make run` and `make test` are the README's quick start.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13; so do the tests and `sam build`.
PYTHON313 ?= $(shell (pyenv prefix 3.13.0 2>/dev/null || dirname $$(dirname $$(command -v python3.13))) | head -n1)/bin/python3.13
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed

.PHONY: help install run test test-unit test-integration lint typecheck sam-validate sam-build bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml shared/requirements.txt
	test -x $(PYTHON313) || { echo "python3.13 not found: install it (pyenv install 3.13.0) or set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group dev -e .
	touch $@

install: $(STAMP)  ## create .venv with Roomcast and its tools

run: $(STAMP)  ## install, then run the whole stack locally in the foreground (Ctrl-C stops it; ARGS=--fresh starts empty)
	$(PY) -m roomcast_local up $(ARGS)

test: $(STAMP) lint  ## the whole suite: lint, types, unit, integration on moto and moto server, SAM checks
	$(PY) -m pytest
	$(MAKE) sam-validate sam-build

lint: $(STAMP)  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared local functions bench

$(SAM): pyproject.toml
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(SAM_VENV)/bin/python -m pip install --quiet --group sam
	touch $@

sam-validate: $(SAM)  ## sam validate --lint (offline), then no managed policy or wildcard resource once translated
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint
	$(SAM_VENV)/bin/python tests/policy_check.py

sam-build: $(SAM)  ## sam build with python3.13 on PATH
	PATH="$(dir $(PYTHON313)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build

bench: $(STAMP) sam-build  ## benchmarks (about 30 min): bench/results/latest.md and latest.json
	$(PY) -m bench

clean:  ## remove build outputs and virtualenvs
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
