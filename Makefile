# The lab's two commands: `make lab` (set up, start the cluster, open JupyterLab) and
# `make test` (set up, run every test and every notebook). Re-running them is fast:
# the venv is rebuilt only when pyproject.toml changes, Kafka's jars are cached.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
LAB_PORT ?= 8888

.PHONY: setup lab test unit down bench html lint clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11+, found " + sys.version.split()[0] + "; set PYTHON=python3.11 or use environment.yml")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[lab,dev]'
	@touch $@

setup: $(VENV)/.installed
	@$(BIN)/labkit install

lab: setup
	$(BIN)/labkit up --nodes 3
	@echo "JupyterLab on http://127.0.0.1:$(LAB_PORT)/lab (Ctrl-C stops it; the cluster keeps running until 'make down')"
	$(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --ServerApp.root_dir=notebooks

# Unit tests, integration tests against the real cluster, and every notebook under nbval.
# The cluster is started by the test session if none runs, and stopped again if it started it.
test: setup
	$(BIN)/ruff check labkit tests bench
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest tests -m "not cluster and not slow" -p no:cacheprovider $(PYTEST_ARGS)

down:
	@test -x $(BIN)/labkit && $(BIN)/labkit down || true

bench: setup
	$(BIN)/python bench/run.py

lint: setup
	$(BIN)/ruff check labkit tests bench

clean: down
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
