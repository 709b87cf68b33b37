# The two commands of the README:
#   make up     install what is missing, start the whole stack, show it working (Ctrl-C stops it)
#   make test   install what is missing, then every check CI runs and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install lint typecheck proto proto-check pytest broker clean

up: install
	$(BIN)/leadmesh up --demo

test: install broker proto-check lint typecheck pytest

install: $(STAMP)

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	scripts/bootstrap.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

broker:
	scripts/ensure-broker.sh

proto:
	$(BIN)/python scripts/genproto.py

proto-check:
	$(BIN)/buf lint
	$(BIN)/python scripts/genproto.py --check

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .leadmesh .mypy_cache .ruff_cache
