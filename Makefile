# Two entry points for a fresh machine (see README):
#   make demo   installs everything, then deploys the suite on a local Anvil and plays a scenario
#   make test   installs everything, then runs the linters and the test suite on Anvil
#               (with venice_sdk line coverage, failing under 90%, and the contracts'
#               statement coverage from Anvil's traces, failing under 95%: the pytest
#               plugin tests/support/coverage.py)
#   make deep   the whole-system state machine's deep profile (300 examples x 200 steps)
# Installs are stamped: a second run reuses .venv and node_modules and starts at once.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export PYTHONWARNINGS := ignore

.PHONY: demo test lint unit deep bench setup clean redis chromium

setup: $(VENV)/.installed node_modules/.installed redis chromium

# The SDK's Redis tests start their own redis-server; install the Debian package if missing.
redis:
	scripts/ensure_redis.sh

# tests/sim/test_report.py opens the simulator's HTML report in headless Chromium; install
# Debian's package if missing.
chromium:
	scripts/ensure_chromium.sh

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

# `npm install` with the committed lock (not `npm ci`: the registry here serves only the
# linux-amd64 Anvil binary, so the lock lacks the other platforms' optional packages).
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	ape run demo

lint: setup
	ruff check .
	ruff format --check .
	mypy

unit: setup
	scripts/run_tests.sh

deep: setup
	VENICE_DEEP=1 ape test tests/stateful/test_stateful_system.py -s

test: lint unit

bench: setup
	ape run bench_gas

clean:
	rm -rf $(VENV) node_modules .build
