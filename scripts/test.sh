#!/usr/bin/env bash
# The README's test command: the whole suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
# The slowest tests are listed at the end, so that a CI log shows where the suite's time goes.
exec "$PY" -m pytest -q -p no:cacheprovider --durations=20 "$@"
