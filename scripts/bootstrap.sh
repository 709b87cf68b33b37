#!/usr/bin/env bash
# Creates the virtual environment and installs leadmesh with its development tools.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "leadmesh needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet --quiet -e ".[dev]"  # errors only: `make up` stays readable
# The Python SDK (leadmesh-client), which `leadmesh enrich` uses: editable, so the tests see its source.
"$venv/bin/python" -m pip install --quiet --quiet -e ./sdk/python
