# The two commands of the README:
#   make up     install what is missing, start the whole stack, show it working (Ctrl-C stops it)
#   make test   install what is missing, then every check CI runs and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install lint typecheck proto proto-check pytest broker clean js-sdk dashboard dashboard-deps

up: install
	@$(MAKE) --no-print-directory dashboard || echo "warning: the dashboard was not built (see above): /app/ will say how to build it"
	$(BIN)/leadmesh up --demo

test: install js-sdk broker dashboard-deps dashboard proto-check lint typecheck pytest

install: $(STAMP)

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	scripts/bootstrap.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

# The TypeScript SDK's build tools (sdk/js/package-lock.json), installed once; then its build and
# tests (tests/sdk/test_js_sdk.py, in the pytest run) need no network.
JS_SDK_STAMP := sdk/js/node_modules/.package-lock.json

js-sdk: $(JS_SDK_STAMP)

$(JS_SDK_STAMP): sdk/js/package-lock.json
	cd sdk/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $(JS_SDK_STAMP)

broker:
	scripts/ensure-broker.sh

# The dashboard (dashboard/, served by the gateway at /app/): packages from its lock file, then
# type-checked and built into dashboard/dist. `make test` also installs Chromium for its tests.
dashboard-deps:
	scripts/install-dashboard-deps.sh --browser

dashboard:
	scripts/install-dashboard-deps.sh
	cd dashboard && npm run --silent build >/dev/null

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
	rm -rf $(VENV) .leadmesh .mypy_cache .ruff_cache sdk/js/node_modules dashboard/node_modules dashboard/dist tests/artifacts
