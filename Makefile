# The lab's two commands: `make lab` (set up, start the cluster, open JupyterLab) and
# `make test` (set up, run every test and every notebook). Re-running them is fast:
# the venv is rebuilt only when pyproject.toml changes, Kafka's jars are cached.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
LAB_PORT ?= 8888

.PHONY: setup lab test unit down bench html lint clean chromium

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11+, found " + sys.version.split()[0] + "; set PYTHON=python3.11 or use environment.yml")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[lab,dev]'
	@touch $@

setup: $(VENV)/.installed
	@$(BIN)/labkit install

# Uses the lab cluster if one runs (and says how many nodes it has), else starts 3 nodes.
lab: setup
	$(BIN)/labkit up
	$(BIN)/labkit lab --port $(LAB_PORT)

# Unit tests, integration tests against the real cluster, and every notebook under nbval.
# The tests run on a 3-node cluster of their own (its own LABKIT_HOME, data and ports), so the
# verdict is the same whatever lab cluster runs meanwhile; the session starts it if none runs
# there and stops it again at the end. Lessons run with their solutions (checks must pass)
# and demo durations halved.
test: export LABKIT_HOME ?= $(HOME)/.cache/labkit-test
test: export LABKIT_SOLUTIONS ?= 1
test: export LABKIT_TIME_SCALE ?= 0.5
test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/mypy labkit
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=300 -p no:cacheprovider $(PYTEST_ARGS)

# The browser test drives Debian's chromium; install it where we can (root + apt), else it skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser test will skip"; \
	  else echo "chromium is not installed and needs root + apt to install: the browser test will skip"; fi; }

# Tests that need no Kafka: the root conftest marks every test that uses the cluster fixture
# (and every notebook) 'cluster', and refuses to start or attach to a cluster in this run.
# Only the venv, not `setup`: `labkit install` may run a throw-away broker to train its archive.
unit: $(VENV)/.installed
	$(BIN)/python -m pytest tests -m "not cluster and not slow and not browser" -p no:cacheprovider $(PYTEST_ARGS)

down:
	@test -x $(BIN)/labkit && $(BIN)/labkit down || true

# Executed lessons as HTML, for instructors and for reading without a cluster.
html: export LABKIT_SOLUTIONS ?= 1
html: setup
	$(BIN)/labkit up
	$(BIN)/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 \
	  --output-dir notebooks/html notebooks/[0-9]*.ipynb
	@echo "HTML lessons in notebooks/html/"

bench: setup
	$(BIN)/python bench/run.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy labkit

clean: down
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
