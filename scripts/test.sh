#!/usr/bin/env bash
# The README's test command: the whole suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
